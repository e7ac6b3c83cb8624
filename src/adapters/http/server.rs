//! Adapters (http): the accept loop that serves a poem endpoint over hyper. Each connection
//! speaks HTTP/1.1 (with upgrades, for GraphQL over WebSocket) or, when it opens with the
//! HTTP/2 preface, HTTP/2 with prior knowledge; the two are separate tasks, so an HTTP/1.1
//! connection (every SSE client) carries no HTTP/2 state. On the stop signal the loop stops
//! accepting, asks every connection to finish what it is doing, and drops the ones still
//! open at the drain deadline.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use poem::endpoint::{DynEndpoint, ToDynEndpoint};
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, IntoEndpoint, RequestParts, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::admission::{Admission, Place};
use super::head_limit::{HTTP1_READ_BUFFER, HTTP2_HEADER_LIST_LIMIT};
use super::quiet::{Activity, IdleWatch, Quiet, Tracked};
use super::send_timeout::SendTimeout;
use super::stall::WatchedBody;

/// A request's body as handlers get it: failing if its client stops sending (`stall`).
pub type RequestBody = WatchedBody<Incoming>;

/// What a connection opening with HTTP/2 prior knowledge sends first.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long a connection shut down for being idle gets to close by itself before it is dropped.
const QUIET_GRACE: Duration = Duration::from_secs(1);
/// After a failed accept (say, out of descriptors), the loop waits this long before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Streams one HTTP/2 connection may have open at once (each SSE client behind an HTTP/2
/// proxy is one); a proxy with more opens another connection.
const HTTP2_MAX_STREAMS: u32 = 200;

/// Where the server is in its life; connections watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Finish in-flight requests and close; take no new ones on kept-alive connections.
    Draining,
    /// The drain deadline passed: close now.
    Closed,
}

type SharedEndpoint = Arc<dyn DynEndpoint<Output = Response>>;

/// Requests a listener answers before poem's routing, from hyper's request as it came (the
/// proxy's: see `proxy_shortcut`). Everything else goes to the poem endpoint.
pub trait Shortcut: Send + Sync + 'static {
    /// Whether this request is one to answer here.
    fn claims(&self, req: &hyper::Request<Incoming>) -> bool;
    /// The answer to a claimed request from `remote`.
    fn answer(
        &self,
        req: hyper::Request<RequestBody>,
        remote: SocketAddr,
    ) -> BoxFuture<'static, Response>;
}

/// Where a request goes: a shortcut's answer already under way, or poem's routing.
enum Handling {
    Shortcut(BoxFuture<'static, Response>),
    // Boxed so that hyper's slot for the in-flight call, kept for the connection's life, is
    // a pointer wide rather than a whole request wide.
    Poem(SharedEndpoint, Box<poem::Request>),
}

/// The time bounds of a listener's connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// After the stop signal, how long open connections get to finish.
    pub drain: Duration,
    /// How long a write may wait on a peer that takes nothing before the connection closes.
    pub send_timeout: Duration,
    /// How long a connection may go without a request in flight: a new one that sends no
    /// whole request head, a kept-alive one left idle after its last answer, or one whose
    /// client sends a head too slowly ever to finish it is closed after this long (and at
    /// most a quarter more). A streaming answer (SSE, the proxy) is a request in flight. A
    /// request body being read that gets nothing from its client for this long fails (`stall`).
    pub idle: Duration,
    /// The bytes per second a request body being read must bring, averaged over `idle`; one
    /// that brings less fails as a stalled one does (0: only a body that brings nothing).
    pub min_body_rate: u64,
}

/// What a listener serves: the poem endpoint, and the requests it answers before routing.
struct Service {
    endpoint: SharedEndpoint,
    shortcut: Option<Arc<dyn Shortcut>>,
    local: LocalAddr,
}

/// Serves `endpoint` on `listener` until `stop` completes, then drains: open connections
/// get `limits.drain` to finish before they are dropped. `name` labels the log lines;
/// requests `shortcut` claims skip poem; with `admission`, connections past its bound are
/// refused.
///
/// # Errors
/// The listener's local address cannot be read.
pub async fn serve<E>(
    listener: TcpListener,
    name: &'static str,
    endpoint: E,
    shortcut: Option<Arc<dyn Shortcut>>,
    admission: Option<Admission>,
    stop: impl Future<Output = ()>,
    limits: ConnectionLimits,
) -> io::Result<()>
where
    E: IntoEndpoint,
    E::Endpoint: Endpoint<Output = Response> + 'static,
{
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    // Shared by every connection: each task holds one pointer to it.
    let service = Arc::new(Service {
        endpoint: Arc::new(ToDynEndpoint(endpoint.into_endpoint())),
        shortcut,
        local,
    });
    // Every connection holds a receiver: the sender's `closed` tells when the last one ends.
    let (phase, _) = watch::channel(Phase::Serving);
    let idle = IdleWatch::start(limits.idle, limits.min_body_rate);
    tracing::info!(name, addr = %service.local.0, "listening");
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    let (stream, place) = match &admission {
                        None => (stream, None),
                        Some(admission) => match admission.admit(stream) {
                            Some((stream, place)) => (stream, Some(place)),
                            None => continue,
                        },
                    };
                    let watched = idle.watch();
                    let accepted = Accepted { stream, remote, place };
                    tokio::spawn(connection(accepted, service.clone(), limits.send_timeout, watched, phase.subscribe()));
                }
                Err(err) => {
                    tracing::warn!(name, error = %err, "accept failed; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    phase.send_replace(Phase::Draining);
    if tokio::time::timeout(limits.drain, phase.closed())
        .await
        .is_err()
    {
        tracing::info!(
            name,
            open = phase.receiver_count(),
            "drain deadline reached: closing open connections"
        );
        phase.send_replace(Phase::Closed);
        phase.closed().await;
    }
    tracing::info!(name, "stopped");
    Ok(())
}

/// A connection just accepted, with its place under the listener's bound (if it has one).
struct Accepted {
    stream: TcpStream,
    remote: SocketAddr,
    place: Option<Place>,
}

/// Serves one connection with the protocol its first bytes name; its place is held until the
/// socket closes.
async fn connection(
    Accepted {
        stream,
        remote,
        place,
    }: Accepted,
    service: Arc<Service>,
    send_timeout: Duration,
    (activity, mut quiet): (Arc<Activity>, Quiet),
    mut phase: watch::Receiver<Phase>,
) {
    // Responses are written whole; small ones (SSE frames, JSON answers) should not wait for
    // the peer's delayed acknowledgement of the previous one.
    let _ = stream.set_nodelay(true);
    // The idle watch starts at the accept: a connection that sends nothing is quiet too.
    let http2 = tokio::select! {
        first = opens_with_http2_preface(&stream) => match first {
            Ok(http2) => http2,
            Err(_) => return,
        },
        () = &mut quiet => return,
        _ = phase.wait_for(|p| *p != Phase::Serving) => return,
    };
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let in_flight = activity.begin();
        let handling = match &service.shortcut {
            Some(shortcut) if shortcut.claims(&req) => {
                let req = req.map(|body| WatchedBody::new(body, &activity));
                Handling::Shortcut(shortcut.answer(req, remote))
            }
            _ => {
                let (parts, body) = req.into_parts();
                let peer = RemoteAddr(Addr::SocketAddr(remote));
                let parts = RequestParts::from((parts, service.local.clone(), peer, Scheme::HTTP));
                let body = BoxBody::new(WatchedBody::new(body, &activity));
                let request = poem::Request::from_parts(parts, poem::Body::from(body));
                Handling::Poem(service.endpoint.clone(), Box::new(request))
            }
        };
        async move {
            let response = match handling {
                Handling::Shortcut(answer) => answer.await,
                Handling::Poem(endpoint, request) => endpoint.get_response(*request).await,
            };
            let response = hyper::Response::from(response);
            Ok::<_, Infallible>(response.map(|body| Tracked::new(body, in_flight)))
        }
    });
    let io = TokioIo::new(SendTimeout::new(stream, send_timeout).holding(place));
    if http2 {
        let conn = http2::Builder::new(TokioExecutor::new())
            .max_header_list_size(u32::try_from(HTTP2_HEADER_LIST_LIMIT).unwrap_or(u32::MAX))
            .max_concurrent_streams(HTTP2_MAX_STREAMS)
            .serve_connection(io, service);
        // Boxed: HTTP/2's connection state is several KiB, and an HTTP/1.1 connection's
        // task (every SSE stream) would otherwise be sized for it too.
        Box::pin(drive(conn, phase, quiet, |c| c.graceful_shutdown())).await;
    } else {
        let conn = http1::Builder::new()
            .max_buf_size(HTTP1_READ_BUFFER)
            .serve_connection(io, service)
            .with_upgrades();
        drive(conn, phase, quiet, |c| c.graceful_shutdown()).await;
    }
}

/// Runs a connection to its end, starting its graceful shutdown when the server drains and
/// dropping it when the server closes. A connection `quiet` (no request in flight) for the
/// idle limit is shut down gracefully too (HTTP/2 says GOAWAY, an idle HTTP/1.1 connection
/// closes at once) and dropped if it has not ended `QUIET_GRACE` later (a request head still
/// trickling in). An upgraded connection (WebSocket) is not watched: the connection future is
/// done when the upgrade happens.
async fn drive<C, T>(
    conn: C,
    mut phase: watch::Receiver<Phase>,
    mut quiet: Quiet,
    graceful: impl Fn(std::pin::Pin<&mut C>),
) where
    C: Future<Output = T>,
{
    tokio::pin!(conn);
    let idle = tokio::select! {
        biased;
        _ = &mut conn => return,
        () = &mut quiet => true,
        _ = phase.wait_for(|p| *p != Phase::Serving) => false,
    };
    if idle {
        graceful(conn.as_mut());
        // Boxed: only a connection that is being closed needs the timer, and every open
        // connection's task would otherwise be sized for it.
        let _ = Box::pin(tokio::time::timeout(QUIET_GRACE, &mut conn)).await;
        return;
    }
    graceful(conn.as_mut());
    tokio::select! {
        _ = &mut conn => {}
        _ = phase.wait_for(|p| *p == Phase::Closed) => {}
    }
}

/// Whether the connection's first bytes are the HTTP/2 preface. Reads nothing: the bytes stay
/// for the protocol's own parser. Waits (briefly, between looks) while what arrived so far
/// is only a beginning of the preface.
pub(super) async fn opens_with_http2_preface(stream: &TcpStream) -> io::Result<bool> {
    let mut first = [0u8; HTTP2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut first).await?;
        if n == 0 || first[..n] != HTTP2_PREFACE[..n] {
            return Ok(false);
        }
        if n == HTTP2_PREFACE.len() {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use poem::EndpointExt;

    use super::*;

    /// Every open connection (each held SSE stream) is one task: this future plus tokio's
    /// task header and trailer, in one allocation of the allocator's 2,560-byte class. When
    /// the future grew from 2,328 to 2,400 bytes (release build), every held stream took
    /// 0.5 KiB more (`bench/sse_builds.sh`, 8,000 streams): the next class. This test sees the
    /// test build's size, which was 2,080 bytes when the release build's was 2,048.
    const CONNECTION_FUTURE_AT_MOST: usize = 2_336;

    #[tokio::test]
    async fn a_connections_task_stays_in_its_allocation_size_class() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = TcpStream::connect(addr).await.unwrap();
        let service = Arc::new(Service {
            endpoint: Arc::new(ToDynEndpoint(
                poem::endpoint::make_sync(|_| "ok").map_to_response(),
            )),
            shortcut: None,
            local: LocalAddr(Addr::SocketAddr(addr)),
        });
        let idle = IdleWatch::start(Duration::from_secs(60), 0);
        let (_phase, watching) = watch::channel(Phase::Serving);
        let accepted = Accepted {
            stream,
            remote: addr,
            place: None,
        };
        let task = connection(
            accepted,
            service,
            Duration::from_secs(60),
            idle.watch(),
            watching,
        );
        let size = std::mem::size_of_val(&task);
        println!("connection future: {size} bytes");
        assert!(
            size <= CONNECTION_FUTURE_AT_MOST,
            "a connection's future is {size} bytes, over {CONNECTION_FUTURE_AT_MOST}"
        );
    }
}
