//! Adapters (http): a fork by path between two route tables (the public listener's REST
//! API and the routes beside it). Choosing the table from the path's first segment, instead
//! of nesting one table in the other, routes each request once, boxes its future once less
//! and keeps its URI as it came. Also a choice of two endpoints made at start-up.

use std::future::Future;

use futures_util::TryFutureExt;
use futures_util::future::Either;
use poem::{Endpoint, IntoResponse, Request, Response};

/// Whether the first segment of `path` is one of `segments`.
fn first_segment_in(path: &str, segments: &[&str]) -> bool {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let first = rest.split_once('/').map_or(rest, |(first, _)| first);
    segments.contains(&first)
}

/// Sends a request whose path starts with one of `segments` to `others`, and every other
/// to `api`, which answers or refuses it.
pub(crate) struct PathSplit<A, O> {
    api: A,
    others: O,
    segments: &'static [&'static str],
}

impl<A, O> PathSplit<A, O> {
    pub(crate) fn new(api: A, others: O, segments: &'static [&'static str]) -> Self {
        Self {
            api,
            others,
            segments,
        }
    }
}

impl<A: Endpoint, O: Endpoint> Endpoint for PathSplit<A, O> {
    type Output = Response;

    // Not an `async fn`: the future holds the chosen table's future and nothing else, so
    // the request is not kept twice in it.
    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        if first_segment_in(req.uri().path(), self.segments) {
            // Boxed: the second table's future is the larger, and REST requests would
            // otherwise carry its size.
            Either::Left(Box::pin(self.others.call(req)).map_ok(IntoResponse::into_response))
        } else {
            Either::Right(self.api.call(req).map_ok(IntoResponse::into_response))
        }
    }
}

/// One of two endpoints, fixed when the chain is built (CORS when origins are configured,
/// say). Unlike poem's `EitherEndpoint`, its future holds the chosen endpoint's future and
/// not the request as well; keep the larger choice boxed so the common one stays small.
pub(crate) enum OneOf<A, B> {
    First(A),
    Second(B),
}

impl<A: Endpoint, B: Endpoint> Endpoint for OneOf<A, B> {
    type Output = Response;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        match self {
            Self::First(a) => Either::Left(a.call(req).map_ok(IntoResponse::into_response)),
            Self::Second(b) => Either::Right(b.call(req).map_ok(IntoResponse::into_response)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use poem::http::StatusCode;
    use poem::{Route, handler};

    use super::*;

    const BESIDE: &[&str] = &["noetl", "graphql", "events", "docs", "openapi.json"];

    fn beside_the_api(path: &str) -> bool {
        first_segment_in(path, BESIDE)
    }

    #[test]
    fn the_first_segment_decides() {
        for path in [
            "/noetl/executions",
            "/noetl/",
            "/noetl",
            "/graphql",
            "/graphql/assets/x.js",
            "/graphql/ws",
            "/events",
            "/docs",
            "/docs/index.html",
            "/openapi.json",
        ] {
            assert!(beside_the_api(path), "{path}");
        }
        for path in [
            "/",
            "",
            "/health",
            "/readyz",
            "/api/auth/validate",
            "/noetlx/a",
            "/graphqlx",
            "/eventsource",
            "/openapi.jsonx",
            "/Noetl/a",
        ] {
            assert!(!beside_the_api(path), "{path}");
        }
    }

    #[handler]
    fn api() -> &'static str {
        "api"
    }

    #[handler]
    fn other() -> &'static str {
        "other"
    }

    async fn answer(path: &str) -> (StatusCode, String) {
        let split = PathSplit::new(
            Route::new().at("/health", api),
            Route::new().at("/events", other),
            BESIDE,
        );
        let req = Request::builder().uri_str(path).finish();
        match split.call(req).await {
            Ok(resp) => (resp.status(), resp.into_body().into_string().await.unwrap()),
            Err(err) => (err.status(), String::new()),
        }
    }

    #[tokio::test]
    async fn one_of_two_calls_the_one_it_holds() {
        let req = || Request::builder().uri_str("/").finish();
        let first: OneOf<_, Route> = OneOf::First(Route::new().at("/", api));
        let second: OneOf<Route, _> = OneOf::Second(Route::new().at("/", other));
        let body = |r: Response| r.into_body().into_string();
        assert_eq!(body(first.call(req()).await.unwrap()).await.unwrap(), "api");
        assert_eq!(
            body(second.call(req()).await.unwrap()).await.unwrap(),
            "other"
        );
    }

    #[tokio::test]
    async fn each_table_answers_its_own_paths_and_refuses_the_others() {
        assert_eq!(answer("/health").await, (StatusCode::OK, "api".into()));
        assert_eq!(answer("/events").await, (StatusCode::OK, "other".into()));
        assert_eq!(answer("/nowhere").await.0, StatusCode::NOT_FOUND);
        assert_eq!(answer("/events/x").await.0, StatusCode::NOT_FOUND);
    }
}
