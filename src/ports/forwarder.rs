//! Port: streaming one HTTP request to NoETL and its response back, without buffering.

use std::future::Future;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use http::{HeaderMap, Method, StatusCode};

use super::Cause;

/// A body as a stream of chunks.
pub type BodyStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// A request bound for NoETL: `path_and_query` is relative to the engine's base URL.
pub struct ForwardRequest {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    /// Whether the client sent a body (a length above zero, or a chunked one).
    pub has_body: bool,
    pub body: BodyStream,
}

/// The engine's response, its body still streaming.
pub struct ForwardResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyStream,
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("upstream is unreachable")]
    Unreachable(#[source] Cause),
    #[error("upstream did not answer in time")]
    Timeout,
    #[error("request could not be forwarded: {0}")]
    BadRequest(String),
    /// Refused at once: as many connections to the upstream are open as allowed.
    #[error("too many connections to upstream are open")]
    Busy,
}

pub trait Forwarder: Clone + Send + Sync + 'static {
    /// Sends the request and returns once the response head has arrived.
    ///
    /// # Errors
    /// `Unreachable` when no connection could be made, `Timeout` when the head did not arrive
    /// within the first-byte bound, `BadRequest` when the request cannot be expressed upstream,
    /// `Busy` when no connection is free and no more may be opened.
    fn forward(
        &self,
        request: ForwardRequest,
    ) -> impl Future<Output = Result<ForwardResponse, ForwardError>> + Send;
}
