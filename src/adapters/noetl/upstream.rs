//! Adapters (noetl): kept-alive HTTP/1.1 connections to NoETL for the proxy. A connection has
//! no task of its own: the request using it drives it, first while waiting for the response
//! head and then from inside the response body, so a proxied exchange runs in the client's
//! task with no hand-off to another task (or thread) per request. Idle connections wait in
//! a bounded pool, and the pool counts every open connection against a bound of its own.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

/// A request body on its way to NoETL.
pub(super) type ProxyBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// One connection. Boxed, so that taking it from the pool, lending it to a response body
/// and putting it back move a pointer rather than hyper's connection state.
pub(super) struct Upstream(Box<Link>);

/// The handle that sends requests and the state machine that does a connection's IO.
struct Link {
    sender: SendRequest<ProxyBody>,
    conn: Connection<TokioIo<TcpStream>, ProxyBody>,
    /// The state machine has finished: the connection is closed.
    closed: bool,
    /// This connection's place under the pool's bound on open connections, given back when
    /// the connection is dropped (or before, by `give_up_slot`).
    slot: Option<OwnedSemaphorePermit>,
}

/// Why a connection could not be used.
pub(super) enum SendError {
    /// The connection was not ready, so nothing was written: the request can go on another.
    Unsent(Box<Request<ProxyBody>>, hyper::Error),
    /// Written, or partly so: not safe to repeat.
    Failed(hyper::Error),
}

impl Upstream {
    /// Opens a connection to `addr` (`host:port`) in a place the pool gave (`Pool::slot`).
    pub(super) async fn connect(addr: &str, slot: OwnedSemaphorePermit) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        Ok(Self(Box::new(Link {
            sender,
            conn,
            closed: false,
            slot: Some(slot),
        })))
    }

    /// Lets the connection read and write what it can; `Ready` once it has closed.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let link = &mut *self.0;
        if link.closed {
            return Poll::Ready(());
        }
        match Pin::new(&mut link.conn).poll(cx) {
            Poll::Ready(_) => {
                link.closed = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Waits until the connection can take a request; `false` when it has closed instead.
    pub(super) async fn ready(&mut self) -> bool {
        std::future::poll_fn(|cx| {
            if self.poll_io(cx).is_ready() {
                return Poll::Ready(false);
            }
            self.0.sender.poll_ready(cx).map(|r| r.is_ok())
        })
        .await
    }

    /// Frees this connection's place under the pool's bound before the connection itself is
    /// dropped (it has closed, and another is about to be opened in its place).
    pub(super) fn give_up_slot(&mut self) {
        self.0.slot = None;
    }

    /// Sends `request` and drives the connection until the response head arrives.
    pub(super) async fn send(
        &mut self,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, SendError> {
        let mut answer = std::pin::pin!(self.0.sender.try_send_request(request));
        let outcome = std::future::poll_fn(|cx| {
            // The connection first, so the answer sees whatever it has just read.
            let _ = self.poll_io(cx);
            answer.as_mut().poll(cx)
        })
        .await;
        outcome.map_err(|mut e| match e.take_message() {
            Some(request) => SendError::Unsent(Box::new(request), e.into_error()),
            None => SendError::Failed(e.into_error()),
        })
    }
}

/// Idle connections, newest last; a bounded number, each for a bounded time. Also the
/// bound on connections open at once, in use or idle.
pub(super) struct Pool {
    idle: Mutex<Vec<(Upstream, Instant)>>,
    max_idle: usize,
    idle_timeout: Duration,
    slots: crate::sync::Places,
}

impl Pool {
    pub(super) fn new(max_open: usize, max_idle: usize, idle_timeout: Duration) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            max_idle,
            idle_timeout,
            slots: crate::sync::Places::new(max_open),
        }
    }

    /// A place for one more open connection; `None` when `max_open` are open.
    pub(super) fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.take()
    }

    /// Connections open now, in use or idle.
    pub(super) fn open(&self) -> usize {
        self.slots.taken()
    }

    /// Whether no connection is idle.
    pub(super) fn none_idle(&self) -> bool {
        crate::sync::lock(&self.idle).is_empty()
    }

    /// The most recently used idle connection that has not been idle too long.
    pub(super) fn take(&self) -> Option<Upstream> {
        let mut idle = crate::sync::lock(&self.idle);
        // The oldest are first: drop the ones past their time, all at once.
        let fresh = idle.partition_point(|(_, since)| since.elapsed() >= self.idle_timeout);
        let stale: Vec<_> = idle.drain(..fresh).collect();
        let taken = idle.pop().map(|(up, _)| up);
        drop(idle);
        drop(stale);
        taken
    }

    /// Keeps a connection for the next request, unless the pool is full.
    fn put(&self, upstream: Upstream) {
        if upstream.0.closed {
            return;
        }
        let mut idle = crate::sync::lock(&self.idle);
        if idle.len() < self.max_idle {
            idle.push((upstream, Instant::now()));
        }
    }

    #[cfg(test)]
    fn idle_count(&self) -> usize {
        crate::sync::lock(&self.idle).len()
    }
}

/// A response body that drives its connection while it is read, and gives the connection
/// back to the pool once the body has been read to its end (a body dropped early closes it).
pub(super) struct Streaming {
    body: Incoming,
    upstream: Option<Upstream>,
    pool: Arc<Pool>,
}

impl Streaming {
    pub(super) fn new(body: Incoming, upstream: Upstream, pool: Arc<Pool>) -> Self {
        Self {
            body,
            upstream: Some(upstream),
            pool,
        }
    }

    /// Gives the connection back once the response has been read. It is idle at once unless
    /// NoETL answered before taking the whole request body: then a task of its own sends the
    /// rest (the client is still uploading it) and pools the connection after.
    fn release(&mut self) {
        let Some(mut upstream) = self.upstream.take() else {
            return;
        };
        if upstream.0.closed {
            return;
        }
        if upstream.0.sender.is_ready() {
            self.pool.put(upstream);
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let pool = self.pool.clone();
            runtime.spawn(async move {
                if upstream.ready().await {
                    pool.put(upstream);
                }
            });
        }
    }
}

impl Stream for Streaming {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(upstream) = this.upstream.as_mut() {
                let _ = upstream.poll_io(cx);
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.release();
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => {
                    this.upstream = None;
                    return Poll::Ready(Some(Err(std::io::Error::other(e))));
                }
                // Trailers are not passed on.
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        // A body with nothing left to read (say, the answer to HEAD) leaves its connection
        // reusable; one dropped part-way does not.
        if self.body.is_end_stream() {
            self.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that answers every request on a connection with `body`, counting connections.
    async fn server(body: &'static str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    fn get(addr: &str) -> Request<ProxyBody> {
        Request::builder()
            .uri("/x")
            .header("host", addr)
            .body(Empty::new().map_err(|never| match never {}).boxed_unsync())
            .unwrap()
    }

    /// The response head to `request`, which must be sent.
    async fn sent(upstream: &mut Upstream, request: Request<ProxyBody>) -> Response<Incoming> {
        match upstream.send(request).await {
            Ok(response) => response,
            Err(_) => panic!("the request was not sent"),
        }
    }

    /// A new connection to `addr` in one of `pool`'s places.
    async fn open(pool: &Pool, addr: &str) -> Upstream {
        let slot = pool.slot().expect("a place for a connection");
        Upstream::connect(addr, slot).await.unwrap()
    }

    async fn read_all(mut body: Streaming) -> Vec<u8> {
        use futures_util::StreamExt;
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_body_read_to_its_end_gives_its_connection_back_for_the_next_request() {
        let (addr, accepted) = server("hello").await;
        let pool = Arc::new(Pool::new(8, 4, Duration::from_secs(60)));
        for _ in 0..3 {
            let mut upstream = match pool.take() {
                Some(up) => up,
                None => open(&pool, &addr).await,
            };
            assert!(upstream.ready().await);
            let response = sent(&mut upstream, get(&addr)).await;
            let body = Streaming::new(response.into_body(), upstream, pool.clone());
            assert_eq!(read_all(body).await, b"hello");
            assert_eq!(pool.idle_count(), 1);
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_body_dropped_part_way_closes_its_connection_and_old_idle_ones_are_dropped() {
        let (addr, _) = server("hello").await;
        let pool = Arc::new(Pool::new(8, 4, Duration::from_secs(60)));
        let mut upstream = open(&pool, &addr).await;
        let response = sent(&mut upstream, get(&addr)).await;
        drop(Streaming::new(response.into_body(), upstream, pool.clone()));
        assert_eq!(pool.idle_count(), 0);

        let short = Arc::new(Pool::new(8, 4, Duration::from_millis(1)));
        short.put(open(&short, &addr).await);
        assert_eq!(short.idle_count(), 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(short.take().is_none());
        assert_eq!(short.idle_count(), 0);
    }

    /// A server that answers each request as soon as its head has arrived, then reads its
    /// body (`content-length` bytes) before the next; it records how much body it read.
    async fn early_answering_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let total = read.clone();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut pending = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let head_end = loop {
                    if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    let n = socket.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buf[..n]);
                };
                let head = String::from_utf8_lossy(&pending[..head_end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                pending.drain(..head_end);
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await
                    .unwrap();
                while pending.len() < length {
                    let n = socket.read(&mut buf).await.unwrap();
                    assert!(n > 0, "the body was cut short");
                    pending.extend_from_slice(&buf[..n]);
                }
                pending.drain(..length);
                total.fetch_add(length, std::sync::atomic::Ordering::SeqCst);
            }
        });
        (addr, read)
    }

    #[tokio::test]
    async fn a_body_still_uploading_when_the_answer_is_read_is_sent_whole_before_reuse() {
        let (addr, read) = early_answering_server().await;
        let pool = Arc::new(Pool::new(8, 4, Duration::from_secs(60)));
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(1);
        let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|c| (c.map(hyper::body::Frame::data), rx))
        });
        let upload = Request::builder()
            .method("POST")
            .uri("/upload")
            .header("host", &addr)
            .header("content-length", 3 * 1024)
            .body(http_body_util::StreamBody::new(chunks).boxed_unsync())
            .unwrap();
        let mut upstream = open(&pool, &addr).await;
        tx.send(Ok(Bytes::from(vec![1u8; 1024]))).await.unwrap();
        let response = sent(&mut upstream, upload).await;
        let body = Streaming::new(response.into_body(), upstream, pool.clone());
        assert_eq!(read_all(body).await, b"ok");
        // The rest of the upload comes after the answer was read.
        for _ in 0..2 {
            tx.send(Ok(Bytes::from(vec![2u8; 1024]))).await.unwrap();
        }
        drop(tx);
        for _ in 0..200 {
            if pool.idle_count() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(read.load(std::sync::atomic::Ordering::SeqCst), 3 * 1024);
        let mut again = pool
            .take()
            .expect("the connection was pooled after the upload");
        assert!(again.ready().await);
        let response = sent(&mut again, get(&addr)).await;
        let body = Streaming::new(response.into_body(), again, pool.clone());
        assert_eq!(read_all(body).await, b"ok");
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_found_closed_before_use() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let closer = tokio::spawn(async move { drop(listener.accept().await.unwrap()) });
        let pool = Pool::new(1, 1, Duration::from_secs(60));
        let mut upstream = open(&pool, &addr).await;
        closer.await.unwrap();
        assert!(!upstream.ready().await);
    }

    #[tokio::test]
    async fn open_connections_are_bounded_in_use_or_idle_and_a_closed_one_frees_its_place() {
        let (addr, _) = server("hello").await;
        let pool = Arc::new(Pool::new(2, 1, Duration::from_secs(60)));
        let mut first = open(&pool, &addr).await;
        let second = open(&pool, &addr).await;
        assert_eq!(pool.open(), 2);
        assert!(pool.slot().is_none(), "a third place past the bound");

        // Idle, a connection keeps its place; past the idle bound it is closed and frees it.
        let response = sent(&mut first, get(&addr)).await;
        assert_eq!(
            read_all(Streaming::new(response.into_body(), first, pool.clone())).await,
            b"hello"
        );
        assert_eq!((pool.idle_count(), pool.open()), (1, 2));
        pool.put(second);
        assert_eq!((pool.idle_count(), pool.open()), (1, 1));
        let third = pool.slot().expect("the place the dropped connection freed");
        drop(third);
        drop(pool.take());
        assert_eq!(pool.open(), 0);
    }
}
