//! Adapters (http): what every request gets between the envelope and the routes, in one
//! layer rather than three (each layer of poem's chain holds the request and moves the
//! future below it at every await): shared state for the handlers (the gateway's), a check
//! run before routing (the proxy's path check on the public listener), and an error in
//! place of a handler's panic, which the envelope turns into a 500 that names no internals.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::Either;
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

/// A check of a request before routing: `Err` answers it 400 with the reason.
pub(crate) type BeforeRouting = fn(&mut Request) -> Result<(), &'static str>;

/// The layer under the envelope; handlers find `data` among the request's extensions.
#[derive(Clone)]
pub(crate) struct Front<T> {
    data: T,
    check: Option<BeforeRouting>,
}

impl<T: Clone + Send + Sync + 'static> Front<T> {
    pub(crate) fn new(data: T) -> Self {
        Self { data, check: None }
    }

    /// Runs `check` on every request before it is routed.
    pub(crate) fn checking(self, check: BeforeRouting) -> Self {
        Self {
            check: Some(check),
            ..self
        }
    }
}

impl<E: Endpoint, T: Clone + Send + Sync + 'static> Middleware<E> for Front<T> {
    type Output = FrontEndpoint<E, T>;

    fn transform(&self, ep: E) -> Self::Output {
        FrontEndpoint {
            inner: ep,
            front: self.clone(),
        }
    }
}

pub(crate) struct FrontEndpoint<E, T> {
    inner: E,
    front: Front<T>,
}

impl<E: Endpoint, T: Clone + Send + Sync + 'static> Endpoint for FrontEndpoint<E, T> {
    type Output = Response;

    // Not an `async fn`: the future holds the inner one and nothing else, so the request is
    // not kept twice in it. The inner layers that are not `async fn`s run code as their
    // future is made, so a panic is caught there as well as while it is polled.
    fn call(&self, mut req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        let prepared = std::panic::catch_unwind(AssertUnwindSafe(|| {
            if let Some(check) = self.front.check {
                check(&mut req)
                    .map_err(|why| poem::Error::from_string(why, StatusCode::BAD_REQUEST))?;
            }
            req.extensions_mut().insert(self.front.data.clone());
            Ok(self.inner.call(req))
        }));
        match prepared {
            Ok(Ok(inner)) => {
                Either::Right(
                    AssertUnwindSafe(inner)
                        .catch_unwind()
                        .map(|caught| match caught {
                            Ok(outcome) => outcome.map(IntoResponse::into_response),
                            Err(_) => Err(panicked()),
                        }),
                )
            }
            Ok(Err(refused)) => Either::Left(std::future::ready(Err(refused))),
            Err(_) => Either::Left(std::future::ready(Err(panicked()))),
        }
    }
}

/// What a handler's panic becomes: an error the envelope answers as a bare 500.
fn panicked() -> poem::Error {
    poem::Error::from_string("the handler panicked", StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::Arc;

    use poem::http::Method;
    use poem::web::Data;
    use poem::{EndpointExt, Route, get, handler};
    use serde_json::Value;

    use super::*;
    use crate::adapters::http::envelope::Envelope;
    use crate::app::metrics::Metrics;

    #[derive(Clone)]
    struct Shared(&'static str);

    #[handler]
    fn shared(data: Data<&Shared>) -> String {
        data.0.0.to_owned()
    }

    #[handler]
    fn panics() -> String {
        panic!("secret detail of a broken handler")
    }

    fn refuse_upper_case(req: &mut Request) -> Result<(), &'static str> {
        if req.uri().path().bytes().any(|b| b.is_ascii_uppercase()) {
            return Err("upper case in the path");
        }
        Ok(())
    }

    /// An endpoint that panics as it makes its future, before any of it is polled.
    struct PanicsWhenCalled;

    impl Endpoint for PanicsWhenCalled {
        type Output = Response;

        fn call(&self, _req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
            panic!("secret detail of a broken layer");
            #[allow(unreachable_code)]
            std::future::ready(Ok(Response::default()))
        }
    }

    /// The routes under the front layer and the envelope, as the listeners serve them.
    fn endpoint() -> impl Endpoint<Output = Response> {
        Route::new()
            .at("/shared", get(shared))
            .at("/panics", get(panics))
            .with(Front::new(Shared("state")).checking(refuse_upper_case))
            .with(Envelope::new(Arc::new(Metrics::new())))
            .map_to_response()
    }

    async fn answer(path: &str) -> (StatusCode, Vec<u8>) {
        let req = Request::builder()
            .method(Method::GET)
            .uri_str(path)
            .finish();
        let response = endpoint().call(req).await.expect("the envelope answers");
        let status = response.status();
        let body = response.into_body().into_vec().await.unwrap();
        (status, body)
    }

    #[tokio::test]
    async fn handlers_find_the_shared_state() {
        let (status, body) = answer("/shared").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"state");
    }

    /// The JSON error body of the answer to `path`, which must have `status`.
    async fn error_answer(path: &str, status: StatusCode) -> Value {
        let (got, body) = answer(path).await;
        assert_eq!(got, status);
        serde_json::from_slice(&body).expect("a JSON error body")
    }

    #[tokio::test]
    async fn a_panic_is_a_500_in_the_error_model_that_names_no_internals() {
        let body = error_answer("/panics", StatusCode::INTERNAL_SERVER_ERROR).await;
        assert_eq!(body["code"], "INTERNAL", "{body}");
        assert!(!body.to_string().contains("secret"), "{body}");
    }

    #[tokio::test]
    async fn a_layer_that_panics_as_it_makes_its_future_is_a_500_as_well() {
        // Directly under the front layer: no `async fn` between them polls the call.
        let chain = PanicsWhenCalled
            .with(Front::new(Shared("state")))
            .with(Envelope::new(Arc::new(Metrics::new())));
        let response = chain
            .call(Request::builder().uri_str("/x").finish())
            .await
            .expect("the envelope answers");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: Value = serde_json::from_slice(&response.into_body().into_vec().await.unwrap())
            .expect("a JSON error body");
        assert_eq!(body["code"], "INTERNAL", "{body}");
        assert!(!body.to_string().contains("secret"), "{body}");
    }

    #[tokio::test]
    async fn a_request_the_check_refuses_is_a_400_with_the_reason() {
        let body = error_answer("/Shared", StatusCode::BAD_REQUEST).await;
        assert_eq!(body["error"], "upper case in the path", "{body}");
    }
}
