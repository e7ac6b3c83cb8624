//! Adapters (http): the bound on a listener's open connections. Each admitted connection holds
//! a place until its socket closes (an upgraded WebSocket included); a connection past the
//! bound gets a `503` JSON answer with a retry hint and is closed, so a flood of idle
//! connections cannot take the descriptors the proxy and NATS need, and a client is told why.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use poem::http::{HeaderValue, StatusCode, header};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::envelope::api_error_response;
use super::error::{ApiError, ErrorCode};
use super::request_id::{CorrelationId, HEADER as REQUEST_ID};
use super::server::opens_with_http2_preface;
use crate::app::metrics::Metrics;

/// Refused connections answered at once; past this a refused connection is closed unanswered,
/// so refusing cannot itself hold many descriptors.
const REFUSALS_AT_ONCE: usize = 64;
/// How long a refused connection gets to send its request head and take the answer.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(2);
/// The retry hint of a refusal, in seconds.
const REFUSAL_RETRY_SECS: u32 = 1;

/// A count of places taken, never above its bound.
#[derive(Debug)]
struct Places {
    taken: AtomicUsize,
    at_most: usize,
}

impl Places {
    fn new(at_most: usize) -> Self {
        Self {
            taken: AtomicUsize::new(0),
            at_most,
        }
    }

    fn try_take(&self) -> bool {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.at_most).then_some(n + 1)
            })
            .is_ok()
    }

    fn give_back(&self) {
        self.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The bound on one listener's open connections (`GATEWAY_MAX_CONNECTIONS` on the public one).
#[derive(Debug, Clone)]
pub struct Admission {
    open: Arc<Places>,
    refusing: Arc<Places>,
    metrics: Arc<Metrics>,
}

/// An admitted connection's place, given back when dropped.
#[derive(Debug)]
pub(crate) struct Place {
    open: Arc<Places>,
    metrics: Arc<Metrics>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.open.give_back();
        self.metrics.connection_closed();
    }
}

impl Admission {
    /// At most `at_most` connections open at once (at least one).
    pub fn new(at_most: usize, metrics: Arc<Metrics>) -> Self {
        metrics.set_connection_limit(at_most);
        Self {
            open: Arc::new(Places::new(at_most.max(1))),
            refusing: Arc::new(Places::new(REFUSALS_AT_ONCE)),
            metrics,
        }
    }

    /// A place for a just-accepted connection, or `None` when the listener is full: the
    /// connection is then answered `503` and closed in a task of its own (or closed at once
    /// when many refusals are already under way).
    pub(crate) fn admit(&self, stream: TcpStream) -> Option<(TcpStream, Place)> {
        if self.open.try_take() {
            self.metrics.connection_opened();
            let place = Place {
                open: self.open.clone(),
                metrics: self.metrics.clone(),
            };
            return Some((stream, place));
        }
        self.metrics.connection_refused();
        if self.refusing.try_take() {
            let refusing = self.refusing.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(REFUSAL_DEADLINE, refuse(stream)).await;
                refusing.give_back();
            });
        }
        None
    }
}

/// Answers every request on `stream` with `503` (`UNAVAILABLE`, `Retry-After`) and closes
/// it: an HTTP/1.1 connection after its first answer, an HTTP/2 one at the refusal deadline.
async fn refuse(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(http2) = opens_with_http2_preface(&stream).await else {
        return;
    };
    let io = TokioIo::new(stream);
    if http2 {
        let answer = service_fn(|_req: hyper::Request<Incoming>| async { refusal(false) });
        let _ = http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, answer)
            .await;
    } else {
        let answer = service_fn(|_req: hyper::Request<Incoming>| async { refusal(true) });
        let _ = http1::Builder::new()
            .keep_alive(false)
            .serve_connection(io, answer)
            .await;
    }
}

/// The body type of poem's responses as hyper takes them.
type RefusalBody = http_body_util::combinators::BoxBody<bytes::Bytes, io::Error>;

/// The answer to a request on a refused connection; `close` says so in a `Connection`
/// header (HTTP/1.1 only: HTTP/2 has no such header).
fn refusal(close: bool) -> Result<hyper::Response<RefusalBody>, Infallible> {
    let id = CorrelationId::generated();
    let error = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unavailable,
        "the gateway holds as many connections as it may; retry shortly",
        &id,
    )
    .retry_after(REFUSAL_RETRY_SECS);
    let mut response = api_error_response(&error, &id);
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, id.header_value().clone());
    if close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response.into())
}

/// A connection's socket together with its place, so the place is held for as long as the
/// socket is open, past an upgrade to a WebSocket too.
#[derive(Debug)]
pub(crate) struct Held<T> {
    io: T,
    _place: Option<Place>,
}

impl<T> Held<T> {
    pub(crate) fn new(io: T, place: Option<Place>) -> Self {
        Self { io, _place: place }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Held<T> {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Held<T> {
    #[inline]
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    #[inline]
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    #[inline]
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    #[inline]
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn places_stop_at_their_bound_and_come_back() {
        let places = Places::new(2);
        assert!(places.try_take());
        assert!(places.try_take());
        assert!(!places.try_take());
        places.give_back();
        assert!(places.try_take());
        assert!(!places.try_take());
    }
}
