//! Adapters (http): closing connections that carry no request. A connection counts the
//! requests it begins and the answers it finishes (an answer finishes when its body has been
//! sent or dropped, so a streaming answer keeps its connection busy). One sweeper per
//! listener looks at every connection's counts a few times per period and flags those with
//! nothing in flight and no change for a whole period. That bounds a kept-alive connection
//! left idle and a client that sends a request's head too slowly ever to finish it, at the
//! cost of two counter increments per request: no timer per request or per connection, so
//! an idle event stream costs no wake-ups and little memory. The same sweeper watches request
//! bodies that wait on their client (`stall`), counting their progress in steps of the bytes
//! the minimum body rate asks for in one period.

use std::future::Future;
use std::num::NonZeroU64;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use hyper::body::{Body, Frame, SizeHint};

/// How many times per period the sweeper looks at the counts: a quiet connection is flagged
/// between one period and one period and a `1 / LOOKS` after its last activity.
const LOOKS: u32 = 4;

/// Something the sweeper watches for a period without progress.
pub(super) trait Watchable: Send + Sync {
    /// A count that changes whenever there is progress, and whether the watched thing is
    /// waiting (a period of waiting without progress flags it).
    fn look(&self) -> (u64, bool);
    /// Called once, when a whole period passed waiting without progress.
    fn flag(&self);
}

/// The requests of one connection: how many began and how many answers finished, and
/// whether the sweeper found it quiet.
#[derive(Default)]
pub struct Activity {
    begun: AtomicU64,
    ended: AtomicU64,
    quiet: AtomicBool,
    waker: AtomicWaker,
    /// The listener's watch, for the connection's request bodies (`stall`).
    registry: Weak<Mutex<Registry>>,
}

impl Activity {
    /// Marks a request as begun; the guard marks its answer as finished when dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.begun.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Puts a request body under the listener's watch until the returned slot is dropped;
    /// `None` once the listener has stopped watching. The body's progress is its count of
    /// bytes, and only a whole step of the minimum rate's bytes counts as progress.
    pub(super) fn watch_body(&self, watched: Arc<dyn Watchable>) -> Option<Slot> {
        let registry = self.registry.upgrade()?;
        Some(Slot::insert(registry, watched, Measure::BodySteps))
    }
}

impl Watchable for Activity {
    fn look(&self) -> (u64, bool) {
        let begun = self.begun.load(Ordering::Relaxed);
        let ended = self.ended.load(Ordering::Relaxed);
        // Both only grow, so their sum changes whenever either does.
        (begun.wrapping_add(ended), begun == ended)
    }

    fn flag(&self) {
        self.quiet.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// A request in flight on its connection, until this is dropped.
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

/// How the sweeper reads a watched thing's count.
#[derive(Clone, Copy)]
enum Measure {
    /// Every change is progress (a connection's requests).
    EveryChange,
    /// Only whole steps of the listener's body step are (a request body's bytes).
    BodySteps,
}

/// One watched connection or body, as the sweeper sees it.
struct Entry {
    watched: Arc<dyn Watchable>,
    /// The progress count at the previous look (`None` before the first), in steps.
    last: Option<u64>,
    /// How much of the watched thing's count makes one step of progress.
    step: NonZeroU64,
    quiet_looks: u32,
}

/// The connections and waiting bodies of one listener.
pub(super) struct Registry {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    /// The bytes a waiting request body must bring in one period.
    body_step: NonZeroU64,
}

/// A place in the registry, given up when dropped.
pub(super) struct Slot {
    registry: Arc<Mutex<Registry>>,
    index: usize,
}

impl Slot {
    fn insert(
        registry: Arc<Mutex<Registry>>,
        watched: Arc<dyn Watchable>,
        measure: Measure,
    ) -> Self {
        let index = {
            let mut registry = lock(&registry);
            let step = match measure {
                Measure::EveryChange => NonZeroU64::MIN,
                Measure::BodySteps => registry.body_step,
            };
            // The first look starts the period rather than counting as a quiet one (the
            // watched thing may be a moment old by then).
            let entry = Entry {
                watched,
                last: None,
                step,
                quiet_looks: 0,
            };
            match registry.free.pop() {
                Some(index) => {
                    registry.entries[index] = Some(entry);
                    index
                }
                None => {
                    registry.entries.push(Some(entry));
                    registry.entries.len() - 1
                }
            }
        };
        Self { registry, index }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut registry = lock(&self.registry);
        if let Some(entry) = registry.entries.get_mut(self.index) {
            *entry = None;
            registry.free.push(self.index);
        }
    }
}

/// Watches a listener's connections for a period without requests. Dropping it stops the
/// sweeper; connections still registered then are no longer flagged.
pub struct IdleWatch {
    registry: Arc<Mutex<Registry>>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl IdleWatch {
    /// Starts the sweeper on the current runtime. A request body being read must bring
    /// `min_body_rate` bytes per second, averaged over the period (0: any byte will do).
    pub fn start(period: Duration, min_body_rate: u64) -> Self {
        let registry = Arc::new(Mutex::new(Registry {
            entries: Vec::new(),
            free: Vec::new(),
            body_step: body_step(period, min_body_rate),
        }));
        let look = (period / LOOKS).max(Duration::from_millis(1));
        let sweeper = tokio::spawn(sweep(Arc::clone(&registry), look));
        Self { registry, sweeper }
    }

    /// Watches a new connection; `Quiet` completes when the sweeper has found it quiet.
    pub fn watch(&self) -> (Arc<Activity>, Quiet) {
        let activity = Arc::new(Activity {
            registry: Arc::downgrade(&self.registry),
            ..Activity::default()
        });
        let quiet = Quiet {
            activity: Arc::clone(&activity),
            _slot: Slot::insert(
                Arc::clone(&self.registry),
                activity.clone(),
                Measure::EveryChange,
            ),
            registered: None,
        };
        (activity, quiet)
    }
}

impl Drop for IdleWatch {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}

/// The bytes `rate` per second comes to over `period`: at least one.
fn body_step(period: Duration, rate: u64) -> NonZeroU64 {
    let millis = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
    let bytes = rate.saturating_mul(millis) / 1000;
    NonZeroU64::new(bytes).unwrap_or(NonZeroU64::MIN)
}

fn lock(registry: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    // The registry holds no invariant a panic elsewhere could break halfway.
    registry.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn sweep(registry: Arc<Mutex<Registry>>, look: Duration) {
    let mut ticks = tokio::time::interval(look);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let mut registry = lock(&registry);
        for entry in registry.entries.iter_mut().flatten() {
            let (count, waiting) = entry.watched.look();
            let progress = count / entry.step;
            if waiting && entry.last == Some(progress) {
                entry.quiet_looks = entry.quiet_looks.saturating_add(1);
                if entry.quiet_looks == LOOKS {
                    entry.watched.flag();
                }
            } else {
                entry.last = Some(progress);
                entry.quiet_looks = 0;
            }
        }
    }
}

/// Completes once the connection has had nothing in flight and no change for the period;
/// dropping it takes the connection off the watch.
pub struct Quiet {
    activity: Arc<Activity>,
    _slot: Slot,
    /// The waker last handed to the sweeper: a connection's task polls with the same one
    /// every time, so it is handed over again only when it changes.
    registered: Option<Waker>,
}

impl Future for Quiet {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if !this
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            this.activity.waker.register(cx.waker());
            this.registered = Some(cx.waker().clone());
        }
        if this.activity.quiet.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(8);

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_requests_is_quiet_after_one_period() {
        let watch = IdleWatch::start(PERIOD, 0);
        let started = tokio::time::Instant::now();
        let (_activity, quiet) = watch.watch();
        quiet.await;
        let waited = started.elapsed();
        assert!(
            waited >= PERIOD && waited <= PERIOD + PERIOD / LOOKS,
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_keeps_its_connection() {
        let watch = IdleWatch::start(PERIOD, 0);
        let (activity, quiet) = watch.watch();
        let in_flight = activity.begin();
        let outcome = tokio::time::timeout(PERIOD * 10, quiet).await;
        assert!(outcome.is_err(), "no quiet while a request is in flight");
        drop(in_flight);
    }

    #[tokio::test(start_paused = true)]
    async fn the_period_counts_from_the_last_answer() {
        let watch = IdleWatch::start(PERIOD, 0);
        let started = tokio::time::Instant::now();
        let (activity, quiet) = watch.watch();
        let in_flight = activity.begin();
        let quiet = tokio::spawn(quiet);
        tokio::time::sleep(PERIOD * 3).await;
        drop(in_flight);
        let answered = started.elapsed();
        quiet.await.expect("the watch ends");
        let idle = started.elapsed() - answered;
        assert!(
            idle >= PERIOD && idle <= PERIOD + PERIOD / LOOKS,
            "flagged {idle:?} after the answer"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_spaced_closer_than_the_period_keep_the_connection() {
        let watch = IdleWatch::start(PERIOD, 0);
        let (activity, quiet) = watch.watch();
        tokio::pin!(quiet);
        for _ in 0..20 {
            let pause = tokio::time::sleep(PERIOD / 2);
            tokio::select! {
                () = &mut quiet => panic!("closed while requests kept coming"),
                () = pause => drop(activity.begin()),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_connection_is_judged_by_its_own_requests() {
        let watch = IdleWatch::start(PERIOD, 0);
        let (_idle, idle_quiet) = watch.watch();
        let (busy, busy_quiet) = watch.watch();
        let _in_flight = busy.begin();
        idle_quiet.await;
        let busy_outcome = tokio::time::timeout(PERIOD * 3, busy_quiet).await;
        assert!(busy_outcome.is_err(), "the busy connection is not flagged");
    }

    #[test]
    fn a_bodys_step_is_the_rate_over_one_period() {
        let step = |secs, rate| body_step(Duration::from_secs(secs), rate).get();
        assert_eq!(step(75, 240), 18_000);
        assert_eq!(step(1, 100), 100);
        assert_eq!(step(75, 0), 1, "no rate: any byte is progress");
        assert_eq!(body_step(Duration::from_millis(500), 1).get(), 1);
        assert_eq!(
            step(u64::MAX / 1000, u64::MAX),
            u64::MAX / 1000,
            "saturates"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_connection_leaves_its_slot_to_the_next() {
        let watch = IdleWatch::start(PERIOD, 0);
        let (_first, first_quiet) = watch.watch();
        drop(first_quiet);
        let (_second, _second_quiet) = watch.watch();
        let registry = lock(&watch.registry);
        assert_eq!(registry.entries.len(), 1, "the freed slot was reused");
        assert!(registry.free.is_empty());
    }
}
