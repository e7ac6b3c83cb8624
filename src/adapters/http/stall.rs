//! Adapters (http): request bodies whose client stops sending, or sends too slowly. A body
//! that a handler is reading and that gets less than the minimum rate's bytes from its client
//! over the idle period (nothing at all, with the rate at 0) fails with `TimedOut`, and the
//! request is answered 408 (`REQUEST_TIMEOUT`). A body nobody is reading at the moment (the
//! proxy waiting for NoETL to take the previous chunk) is not waiting on its client and is
//! never cut off; a client that keeps sending at the rate is not either. The listener's idle
//! sweeper does the watching, and a body starts being watched only when a read finds nothing
//! ready, so a body that arrives with its head costs no allocation and no registration.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use hyper::body::{Body, Frame, SizeHint};

use super::quiet::{Activity, Slot, Watchable};

/// The reads of one request body, as the sweeper sees them.
#[derive(Default)]
struct Progress {
    /// Bytes received since the watch began (frames without data, such as empty HTTP/2
    /// DATA frames, are no progress).
    bytes: AtomicU64,
    /// Whether the last read found nothing ready.
    waiting: AtomicBool,
    /// Set by the sweeper after a whole period of waiting without enough bytes.
    stalled: AtomicBool,
    waker: AtomicWaker,
}

impl Watchable for Progress {
    fn look(&self) -> (u64, bool) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.waiting.load(Ordering::Relaxed),
        )
    }

    fn flag(&self) {
        self.stalled.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// What a request that failed this way is told.
pub const STALL_MESSAGE: &str =
    "the client stopped sending the request body, or sent it below the minimum rate";

/// The error a stalled body fails with (inside an `io::Error` of kind `TimedOut`).
#[derive(Debug, thiserror::Error)]
#[error("{}", STALL_MESSAGE)]
struct BodyStalled;

/// Whether `err`, read from a request body, is the stall of `WatchedBody`, possibly wrapped
/// in further `io::Error`s by whoever read it.
pub fn is_stall(err: &io::Error) -> bool {
    match err.get_ref() {
        Some(inner) if inner.is::<BodyStalled>() => true,
        Some(inner) => inner.downcast_ref::<io::Error>().is_some_and(is_stall),
        None => false,
    }
}

/// Whether a handler's error comes from a body that stalled: read as bytes or JSON (poem's
/// `ReadBodyError`), as a GraphQL request, or directly.
pub fn caused_by_stall(err: &poem::Error) -> bool {
    if let Some(poem::error::ReadBodyError::Io(e)) = err.downcast_ref() {
        return is_stall(e);
    }
    if let Some(async_graphql::ParseRequestError::Io(e)) = err.downcast_ref() {
        return is_stall(e);
    }
    err.downcast_ref::<io::Error>().is_some_and(is_stall)
}

/// What watching a body needs: the connection (to reach the sweeper) and, once a read has
/// waited, the body's progress and its place in the sweeper's registry.
struct Watch {
    activity: Arc<Activity>,
    waited: Option<(Arc<Progress>, Option<Slot>)>,
}

/// A request body that fails with `TimedOut` when its client sends less than the minimum
/// rate's bytes over the idle period while it is being read. An empty body is passed through
/// unwatched.
pub struct WatchedBody<B> {
    body: B,
    watch: Option<Watch>,
}

impl<B: Body> WatchedBody<B> {
    pub fn new(body: B, activity: &Arc<Activity>) -> Self {
        let watch = (!body.is_end_stream()).then(|| Watch {
            activity: Arc::clone(activity),
            waited: None,
        });
        Self { body, watch }
    }
}

/// A frame read from the wrapped body, its error as an `io::Error`.
fn as_io<E>(frame: Option<Result<Frame<Bytes>, E>>) -> Option<Result<Frame<Bytes>, io::Error>>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    frame.map(|r| r.map_err(io::Error::other))
}

fn stalled() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, BodyStalled)
}

impl<B> Body for WatchedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let Some(watch) = &mut this.watch else {
            return Pin::new(&mut this.body).poll_frame(cx).map(as_io);
        };
        if let Some((progress, _)) = &watch.waited
            && progress.stalled.load(Ordering::Acquire)
        {
            return Poll::Ready(Some(Err(stalled())));
        }
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Pending => {
                // Watched from the first read that finds nothing: a body that arrives with
                // its head never gets this far.
                let (progress, _) = watch.waited.get_or_insert_with(|| {
                    let progress = Arc::new(Progress::default());
                    let watched: Arc<dyn Watchable> = progress.clone();
                    let slot = watch.activity.watch_body(watched);
                    (progress, slot)
                });
                progress.waker.register(cx.waker());
                progress.waiting.store(true, Ordering::Relaxed);
                if progress.stalled.load(Ordering::Acquire) {
                    return Poll::Ready(Some(Err(stalled())));
                }
                Poll::Pending
            }
            Poll::Ready(frame) => {
                if let Some((progress, _)) = &watch.waited {
                    progress.waiting.store(false, Ordering::Relaxed);
                    let len = frame
                        .as_ref()
                        .and_then(|read| read.as_ref().ok())
                        .and_then(Frame::data_ref)
                        .map_or(0, Bytes::len);
                    progress
                        .bytes
                        .fetch_add(u64::try_from(len).unwrap_or(u64::MAX), Ordering::Relaxed);
                }
                Poll::Ready(as_io(frame))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::{BodyExt, Empty, StreamBody};
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::ReceiverStream;

    use super::*;
    use crate::adapters::http::quiet::IdleWatch;

    const PERIOD: Duration = Duration::from_secs(8);

    type Chunk = Result<Frame<Bytes>, io::Error>;
    type Chunks = StreamBody<ReceiverStream<Chunk>>;

    fn body(activity: &Arc<Activity>) -> (mpsc::Sender<Chunk>, WatchedBody<Chunks>) {
        let (sender, receiver) = mpsc::channel(4);
        (
            sender,
            WatchedBody::new(StreamBody::new(ReceiverStream::new(receiver)), activity),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_whose_client_sends_nothing_fails_after_one_period() {
        let watch = IdleWatch::start(PERIOD, 0);
        let (activity, _quiet) = watch.watch();
        let (_sender, mut body) = body(&activity);
        let started = tokio::time::Instant::now();
        let read = tokio::time::timeout(PERIOD * 3, body.frame())
            .await
            .expect("the stall is noticed")
            .expect("an outcome");
        let waited = started.elapsed();
        let err = read.expect_err("the read fails");
        assert!(is_stall(&err), "{err}");
        assert!(is_stall(&io::Error::other(err)), "still told when wrapped");
        assert!(
            waited >= PERIOD && waited <= PERIOD + PERIOD / 4,
            "{waited:?}"
        );
    }

    /// A body read on a listener whose bodies must bring `rate` bytes per second, while its
    /// client sends `times` frames of `size` bytes, one every `every`: how long the reading
    /// took and how it ended (the bytes read, or the error).
    async fn read_fed_body(
        rate: u64,
        size: usize,
        every: Duration,
        times: usize,
    ) -> (Duration, Result<usize, io::Error>) {
        let watch = IdleWatch::start(PERIOD, rate);
        let (activity, _quiet) = watch.watch();
        let (sender, mut body) = body(&activity);
        tokio::spawn(async move {
            for _ in 0..times {
                tokio::time::sleep(every).await;
                let chunk = Frame::data(Bytes::from(vec![b'x'; size]));
                if sender.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
        });
        let started = tokio::time::Instant::now();
        let mut bytes = 0;
        while let Some(read) = body.frame().await {
            match read {
                Ok(frame) => bytes += frame.into_data().map_or(0, |d| d.len()),
                Err(err) => return (started.elapsed(), Err(err)),
            }
        }
        (started.elapsed(), Ok(bytes))
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_client_that_keeps_sending_is_not_cut_off() {
        // A byte every half period, with no minimum rate.
        let (_, outcome) = read_fed_body(0, 1, PERIOD / 2, 20).await;
        assert_eq!(outcome.expect("no stall while data keeps coming"), 20);
    }

    /// 25 bytes per second over the 8 s period: 200 bytes per period.
    const RATE: u64 = 25;

    #[tokio::test(start_paused = true)]
    async fn a_body_trickled_below_the_minimum_rate_fails_after_one_period() {
        // A byte about every 3.4 s: never silent for a period, far below 200 bytes per period.
        let (took, outcome) = read_fed_body(RATE, 1, PERIOD * 3 / 7, 100).await;
        let err = outcome.expect_err("the trickle is cut off");
        assert!(is_stall(&err), "{err}");
        assert!(took >= PERIOD && took <= PERIOD + PERIOD / 4, "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_sent_at_the_minimum_rate_is_read_whole() {
        // 150 bytes about every 3.4 s (350 bytes per period), for ten periods: a step of 200
        // bytes is crossed at least every second frame, within every period.
        let (took, outcome) = read_fed_body(RATE, 150, PERIOD * 3 / 7, 24).await;
        assert_eq!(outcome.expect("not cut off"), 150 * 24);
        assert!(took >= PERIOD * 10, "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn frames_without_data_are_no_progress() {
        let (took, outcome) = read_fed_body(0, 0, PERIOD * 3 / 7, 100).await;
        assert!(is_stall(&outcome.expect_err("empty frames do not keep it")));
        assert!(took >= PERIOD && took <= PERIOD + PERIOD / 4, "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_nobody_reads_is_not_waiting_on_its_client() {
        let watch = IdleWatch::start(PERIOD, 0);
        let (activity, _quiet) = watch.watch();
        let (sender, mut body) = body(&activity);
        sender
            .send(Ok(Frame::data(Bytes::from_static(b"first"))))
            .await
            .expect("queued");
        body.frame().await.expect("a frame").expect("read");
        // The reader is busy elsewhere (NoETL slow to take the chunk) for many periods.
        tokio::time::sleep(PERIOD * 10).await;
        sender
            .send(Ok(Frame::data(Bytes::from_static(b"second"))))
            .await
            .expect("queued");
        let second = body.frame().await.expect("a frame").expect("not stalled");
        assert_eq!(second.into_data().ok(), Some(Bytes::from_static(b"second")));
    }

    #[test]
    fn a_stall_is_told_apart_however_the_reader_wrapped_it() {
        let wrapped = || io::Error::other(stalled());
        let read = poem::Error::from(poem::error::ReadBodyError::Io(wrapped()));
        assert!(caused_by_stall(&read));
        let graphql = poem::error::BadRequest(async_graphql::ParseRequestError::Io(wrapped()));
        assert!(caused_by_stall(&graphql));
        let other = io::Error::new(io::ErrorKind::TimedOut, "another timeout");
        let read = poem::Error::from(poem::error::ReadBodyError::Io(other));
        assert!(!caused_by_stall(&read));
        let plain = poem::Error::from_string("bad", poem::http::StatusCode::BAD_REQUEST);
        assert!(!caused_by_stall(&plain));
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_body_is_not_watched() {
        let watch = IdleWatch::start(PERIOD, 0);
        let (activity, _quiet) = watch.watch();
        let body = WatchedBody::new(Empty::<Bytes>::new(), &activity);
        assert!(body.watch.is_none());
    }
}
