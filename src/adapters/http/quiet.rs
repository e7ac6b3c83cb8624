//! Adapters (http): closing connections that carry no request. A connection counts the
//! requests it begins and the answers it finishes (an answer finishes when its body has been
//! sent or dropped, so a streaming answer keeps its connection busy); a watch that looks at
//! the counts a few times per period ends when nothing was in flight and nothing began or
//! ended for a whole period. That bounds both a kept-alive connection left idle and a client
//! that sends a request's head too slowly ever to finish it, at the cost of two counter
//! increments per request (no timer per request).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

/// How many times per period the watch looks at the counts: a quiet connection is closed
/// between one period and one period and a `1 / LOOKS` after its last activity.
const LOOKS: u32 = 4;

/// The requests of one connection: how many began and how many answers finished.
#[derive(Debug, Default)]
pub struct Activity {
    begun: AtomicU64,
    ended: AtomicU64,
}

impl Activity {
    /// Marks a request as begun; the guard marks its answer as finished when dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.begun.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.begun.load(Ordering::Relaxed),
            self.ended.load(Ordering::Relaxed),
        )
    }
}

/// A request in flight on its connection, until this is dropped.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.ended.fetch_add(1, Ordering::Relaxed);
    }
}

/// An answer's body that keeps its request in flight until it is finished or dropped.
pub struct Tracked<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B> Tracked<B> {
    pub fn new(body: B, in_flight: InFlight) -> Self {
        Self {
            body,
            _in_flight: in_flight,
        }
    }
}

impl<B> Body for Tracked<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Completes once `activity` has had nothing in flight and no change for `period`.
pub struct Quiet {
    activity: Arc<Activity>,
    look: Duration,
    sleep: Pin<Box<Sleep>>,
    armed: bool,
    last: (u64, u64),
    quiet_looks: u32,
}

impl Quiet {
    pub fn new(activity: Arc<Activity>, period: Duration) -> Self {
        let look = (period / LOOKS).max(Duration::from_millis(1));
        let last = activity.counts();
        Self {
            activity,
            look,
            sleep: Box::pin(tokio::time::sleep(look)),
            armed: false,
            last,
            quiet_looks: 0,
        }
    }
}

impl Future for Quiet {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            // The connection's task wakes for every read and write; once the timer holds the
            // task's waker, it is looked at again only when it has fired.
            if this.armed && !this.sleep.is_elapsed() {
                return Poll::Pending;
            }
            if this.sleep.as_mut().poll(cx).is_pending() {
                this.armed = true;
                return Poll::Pending;
            }
            let now = this.activity.counts();
            let idle = now == this.last && now.0 == now.1;
            this.quiet_looks = if idle { this.quiet_looks + 1 } else { 0 };
            if this.quiet_looks >= LOOKS {
                return Poll::Ready(());
            }
            this.last = now;
            // From now, not from the last deadline: a task that ran late must not take
            // several looks at once.
            let next = tokio::time::Instant::now() + this.look;
            this.sleep.as_mut().reset(next);
            this.armed = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(8);

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_requests_is_quiet_after_one_period() {
        let activity = Arc::new(Activity::default());
        let started = tokio::time::Instant::now();
        Quiet::new(activity, PERIOD).await;
        let waited = started.elapsed();
        assert!(
            waited >= PERIOD && waited <= PERIOD + PERIOD / LOOKS,
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_keeps_its_connection() {
        let activity = Arc::new(Activity::default());
        let in_flight = activity.begin();
        let quiet = Quiet::new(Arc::clone(&activity), PERIOD);
        let outcome = tokio::time::timeout(PERIOD * 10, quiet).await;
        assert!(outcome.is_err(), "no quiet while a request is in flight");
        drop(in_flight);
    }

    #[tokio::test(start_paused = true)]
    async fn the_period_counts_from_the_last_answer() {
        let activity = Arc::new(Activity::default());
        let started = tokio::time::Instant::now();
        let in_flight = activity.begin();
        let quiet = tokio::spawn(Quiet::new(Arc::clone(&activity), PERIOD));
        tokio::time::sleep(PERIOD * 3).await;
        drop(in_flight);
        let answered = started.elapsed();
        quiet.await.expect("the watch ends");
        let idle = started.elapsed() - answered;
        assert!(
            idle >= PERIOD && idle <= PERIOD + PERIOD / LOOKS,
            "closed {idle:?} after the answer"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_spaced_closer_than_the_period_keep_the_connection() {
        let activity = Arc::new(Activity::default());
        let mut quiet = Box::pin(Quiet::new(Arc::clone(&activity), PERIOD));
        for _ in 0..20 {
            let pause = tokio::time::sleep(PERIOD / 2);
            tokio::select! {
                () = &mut quiet => panic!("closed while requests kept coming"),
                () = pause => drop(activity.begin()),
            }
        }
    }
}
