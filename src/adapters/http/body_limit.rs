//! Adapters (http): the request-body limit of the JSON routes, enforced whether or not the
//! client declared a length (the streaming proxy has its own limit).

use poem::http::{StatusCode, header};
use poem::{Body, Endpoint, Middleware, Request, Result};

use super::stall::is_stall;

#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    max: usize,
}

impl BodyLimit {
    pub fn new(max: usize) -> Self {
        Self { max }
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint {
            inner: ep,
            max: self.max,
        }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    max: usize,
}

fn too_large(max: usize) -> poem::Error {
    poem::Error::from_string(
        format!("request body is larger than the limit of {max} bytes"),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(len) if len > self.max as u64 => return Err(too_large(self.max)),
            Some(_) => {}
            None => {
                let bytes =
                    req.take_body()
                        .into_bytes_limit(self.max)
                        .await
                        .map_err(|e| match e {
                            poem::error::ReadBodyError::PayloadTooLarge => too_large(self.max),
                            poem::error::ReadBodyError::Io(e) if is_stall(&e) => {
                                poem::Error::from_string(e.to_string(), StatusCode::REQUEST_TIMEOUT)
                            }
                            _ => poem::Error::from_string(
                                "the request body could not be read",
                                StatusCode::BAD_REQUEST,
                            ),
                        })?;
                req.set_body(Body::from_bytes(bytes));
            }
        }
        self.inner.call(req).await
    }
}
