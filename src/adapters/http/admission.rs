//! Adapters (http): the bound on a listener's open connections. Each admitted connection holds
//! a place until its socket closes (an upgraded WebSocket included; the socket's wrapper in
//! `send_timeout` keeps it). A connection past the bound gets a `503` JSON answer with a retry
//! hint and is closed, so a flood of idle connections cannot take the descriptors the proxy
//! and NATS need, and a client is told why.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use poem::http::{HeaderValue, StatusCode, header};
use tokio::net::TcpStream;

use super::envelope::api_error_response;
use super::error::{ApiError, ErrorCode};
use super::request_id::{CorrelationId, HEADER as REQUEST_ID};
use super::server::opens_with_http2_preface;
use crate::app::metrics::{Listener, Metrics};
use crate::sync::Places;

/// Refused connections answered at once; past this a refused connection is closed unanswered,
/// so refusing cannot itself hold many descriptors.
const REFUSALS_AT_ONCE: usize = 64;
/// How long a refused connection gets to send its request head and take the answer.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(2);
/// The retry hint of a refusal, in seconds.
const REFUSAL_RETRY_SECS: u32 = 1;

/// The bound on one listener's open connections (`GATEWAY_MAX_CONNECTIONS` on the public one,
/// `GATEWAY_INTERNAL_MAX_CONNECTIONS` on the internal one).
#[derive(Debug, Clone)]
pub struct Admission {
    shared: Arc<Shared>,
}

/// What the listener's connections and their places share. The open connections are counted
/// here rather than with `sync::Places`, whose permit is two words where a place is one.
#[derive(Debug)]
struct Shared {
    open: AtomicUsize,
    at_most: usize,
    refusing: Places,
    metrics: Arc<Metrics>,
    listener: Listener,
}

/// An admitted connection's place, given back when dropped. One pointer wide: every open
/// connection's task carries it, and a few bytes more can put that task in a larger
/// allocation (see the size test in `server`).
#[derive(Debug)]
pub(crate) struct Place(Arc<Shared>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.metrics.connection_closed(self.0.listener);
    }
}

impl Admission {
    /// At most `at_most` connections open at once on `listener` (at least one).
    pub fn new(at_most: usize, metrics: Arc<Metrics>, listener: Listener) -> Self {
        let at_most = at_most.max(1);
        metrics.set_connection_limit(listener, at_most);
        Self {
            shared: Arc::new(Shared {
                open: AtomicUsize::new(0),
                at_most,
                refusing: Places::new(REFUSALS_AT_ONCE),
                metrics,
                listener,
            }),
        }
    }

    /// A place for a just-accepted connection, or `None` when the listener is full: the
    /// connection is then answered `503` and closed in a task of its own (or closed at once
    /// when many refusals are already under way).
    pub(crate) fn admit(&self, stream: TcpStream) -> Option<(TcpStream, Place)> {
        let shared = &self.shared;
        let taken = shared
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < shared.at_most).then_some(n + 1)
            })
            .is_ok();
        if taken {
            shared.metrics.connection_opened(shared.listener);
            return Some((stream, Place(shared.clone())));
        }
        shared.metrics.connection_refused(shared.listener);
        if let Some(refusing) = shared.refusing.take() {
            tokio::spawn(async move {
                let _ = tokio::time::timeout(REFUSAL_DEADLINE, refuse(stream)).await;
                drop(refusing);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    async fn connected() -> TcpStream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn places_stop_at_the_bound_and_a_dropped_one_comes_back() {
        let metrics = Arc::new(Metrics::new());
        let admission = Admission::new(2, metrics.clone(), Listener::Public);
        let first = admission.admit(connected().await).expect("a place");
        let _second = admission.admit(connected().await).expect("a place");
        assert!(
            admission.admit(connected().await).is_none(),
            "the bound is 2"
        );
        drop(first);
        let _third = admission.admit(connected().await).expect("a freed place");
        let text = metrics.render();
        assert!(
            text.contains("gateway_connections_refused_total 1\n"),
            "{text}"
        );
        assert!(text.contains("gateway_connections_open 2\n"), "{text}");
        assert!(text.contains("gateway_connections_limit 2\n"), "{text}");
        assert!(
            text.contains("gateway_internal_connections_open 0\n"),
            "the other listener's count is apart: {text}"
        );
    }

    #[tokio::test]
    async fn the_internal_listeners_connections_are_counted_under_their_own_names() {
        let metrics = Arc::new(Metrics::new());
        let admission = Admission::new(1, metrics.clone(), Listener::Internal);
        let _held = admission.admit(connected().await).expect("a place");
        assert!(admission.admit(connected().await).is_none());
        let text = metrics.render();
        for line in [
            "gateway_internal_connections_open 1\n",
            "gateway_internal_connections_limit 1\n",
            "gateway_internal_connections_refused_total 1\n",
            "gateway_connections_open 0\n",
            "gateway_connections_refused_total 0\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
