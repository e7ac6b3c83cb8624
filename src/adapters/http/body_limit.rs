//! Adapters (http): the request-body limit of the JSON routes, enforced whether or not the
//! client declared a length (the streaming proxy has its own limit).

use std::future::Future;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::future::{BoxFuture, Either};
use poem::http::{HeaderMap, StatusCode, header};
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

/// The body length a request declares in `Content-Length`, when it declares a valid one.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

fn too_large(max: usize) -> poem::Error {
    poem::Error::from_string(
        format!("request body is larger than the limit of {max} bytes"),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    // Not an `async fn`: on the usual paths the future is the inner one alone, so the
    // request is not kept twice in it; only a body of unknown length is read first.
    fn call(&self, mut req: Request) -> impl Future<Output = Result<Self::Output>> + Send {
        match declared_length(req.headers()) {
            Some(len) if len > self.max as u64 => {
                Either::Left(Either::Left(std::future::ready(Err(too_large(self.max)))))
            }
            Some(_) => Either::Left(Either::Right(self.inner.call(req))),
            None => {
                let body = req.take_body();
                // A request with neither a length nor chunks (a GET, say) has no body to read.
                if body.is_empty() {
                    req.set_body(body);
                    return Either::Left(Either::Right(self.inner.call(req)));
                }
                let read = read_within(body, self.max);
                Either::Right(Box::pin(async move {
                    req.set_body(Body::from_bytes(read.await?));
                    self.inner.call(req).await
                }))
            }
        }
    }
}

/// The whole of a body sent without a declared length, refused once it passes `max` bytes.
/// Boxed, with no read buffer of its own.
fn read_within(body: Body, max: usize) -> BoxFuture<'static, Result<Bytes>> {
    Box::pin(async move {
        let mut chunks = body.into_bytes_stream();
        let mut first: Option<Bytes> = None;
        let mut joined = BytesMut::new();
        let mut seen = 0usize;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| {
                if is_stall(&e) {
                    poem::Error::from_string(e.to_string(), StatusCode::REQUEST_TIMEOUT)
                } else {
                    poem::Error::from_string(
                        "the request body could not be read",
                        StatusCode::BAD_REQUEST,
                    )
                }
            })?;
            seen = seen.saturating_add(chunk.len());
            if seen > max {
                return Err(too_large(max));
            }
            // One chunk (the usual case) is kept as it came; more are joined.
            match first.take() {
                None if joined.is_empty() => first = Some(chunk),
                None => joined.extend_from_slice(&chunk),
                Some(earlier) => {
                    joined.reserve(earlier.len() + chunk.len());
                    joined.extend_from_slice(&earlier);
                    joined.extend_from_slice(&chunk);
                }
            }
        }
        Ok(first.unwrap_or_else(|| joined.freeze()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::{EndpointExt, IntoResponse, handler};

    #[handler]
    async fn echo(body: Vec<u8>) -> Vec<u8> {
        body
    }

    async fn send(body: Body, max: usize) -> (StatusCode, Vec<u8>) {
        let ep = echo.with(BodyLimit::new(max));
        let resp = match ep.call(Request::builder().body(body)).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let status = resp.status();
        (status, resp.into_body().into_vec().await.unwrap())
    }

    fn streamed(parts: &[&'static [u8]]) -> Body {
        let chunks: Vec<std::io::Result<Bytes>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Body::from_bytes_stream(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_body_of_several_chunks_within_the_limit_arrives_whole() {
        let (status, body) = send(streamed(&[b"abc", b"", b"def", b"g"]), 7).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"abcdefg");
        let (status, body) = send(streamed(&[b"only"]), 7).await;
        assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"only"[..]));
    }

    #[tokio::test]
    async fn a_streamed_body_past_the_limit_is_refused_with_413() {
        let (status, _) = send(streamed(&[b"abcd", b"efgh"]), 7).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn an_empty_body_passes_unread() {
        let (status, body) = send(Body::empty(), 0).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.is_empty());
        let (status, body) = send(streamed(&[]), 0).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn a_failing_body_is_a_400() {
        let failing: Vec<std::io::Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"ab")),
            Err(std::io::Error::other("reset")),
        ];
        let body = Body::from_bytes_stream(futures_util::stream::iter(failing));
        let (status, _) = send(body, 100).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
