//! App: how long an operation on the shared store keeps retrying while NATS is connected
//! but the store does not answer, as while a stream's leader is re-elected after a node of
//! the cluster is lost (several seconds: followers wait out an election timeout first).
//! Each retry is short, so the first one after the election succeeds; the window is bounded
//! per operation and per outage, so that during a long outage operations give up after one
//! try instead of each waiting anew.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How long after it started an operation may still start a retry.
pub const OPERATION_PATIENCE: Duration = Duration::from_secs(14);

/// How long after the shared store first failed any operation may still start a retry.
pub const OUTAGE_PATIENCE: Duration = Duration::from_secs(14);

/// The bound of one retry: a lookup or write that hangs on a leaderless stream is given up
/// and tried again rather than waited on.
const TRY_LIMIT: Duration = Duration::from_secs(2);

/// The first pause between tries; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// When the shared store started failing, shared by every operation on one adapter.
#[derive(Debug, Clone, Default)]
pub struct Patience {
    failing_since: Arc<Mutex<Option<Instant>>>,
}

impl Patience {
    /// The shared store answered, or NATS is away and memory stands in: the next failure
    /// while NATS is connected starts a new window.
    pub fn reset(&self) {
        let mut since = crate::sync::lock(&self.failing_since);
        if since.is_some() {
            *since = None;
        }
    }

    /// The retries of an operation that started at `started` and whose first try failed.
    /// Its deadline is fixed now, so another operation's success cannot extend it.
    pub fn retries(&self, started: Instant) -> Retries {
        let since = *crate::sync::lock(&self.failing_since).get_or_insert_with(Instant::now);
        Retries {
            deadline: (started + OPERATION_PATIENCE).min(since + OUTAGE_PATIENCE),
            pause: FIRST_PAUSE,
        }
    }
}

/// The pauses of one operation's retries.
#[derive(Debug)]
pub struct Retries {
    deadline: Instant,
    pause: Duration,
}

impl Retries {
    /// Waits before the next try; `false` (without waiting) when that try would start past
    /// the deadline.
    pub async fn pause(&mut self) -> bool {
        let wake = Instant::now() + self.pause;
        if wake > self.deadline {
            return false;
        }
        tokio::time::sleep_until(wake).await;
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        true
    }

    /// When a retry starting now is given up.
    pub fn cutoff() -> Instant {
        Instant::now() + TRY_LIMIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn count_pauses(retries: &mut Retries) -> u32 {
        let mut pauses = 0;
        while retries.pause().await {
            pauses += 1;
        }
        pauses
    }

    #[tokio::test(start_paused = true)]
    async fn an_operation_retries_until_its_own_window_ends() {
        let patience = Patience::default();
        let start = Instant::now();
        let mut retries = patience.retries(start);
        // 0.1 + 0.2 + 0.4 + 0.8 s, then 1 s pauses: the last starts at 13.5 s.
        assert_eq!(count_pauses(&mut retries).await, 16);
        let waited = start.elapsed();
        assert!(waited <= OPERATION_PATIENCE, "waited {waited:?}");
        assert!(
            waited + MAX_PAUSE >= OPERATION_PATIENCE,
            "waited {waited:?}"
        );
        assert_eq!(Retries::cutoff(), Instant::now() + TRY_LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn during_a_long_outage_a_new_operation_does_not_wait_anew() {
        let patience = Patience::default();
        let _first = patience.retries(Instant::now());
        tokio::time::sleep(OUTAGE_PATIENCE).await;
        let mut later = patience.retries(Instant::now());
        assert!(!later.pause().await, "the outage's window has passed");
    }

    #[tokio::test(start_paused = true)]
    async fn an_operation_that_started_long_ago_does_not_retry() {
        let patience = Patience::default();
        let started = Instant::now();
        tokio::time::sleep(OPERATION_PATIENCE).await;
        let mut retries = patience.retries(started);
        assert!(!retries.pause().await, "its own window has passed");
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_starts_a_new_window_but_does_not_extend_a_running_one() {
        let patience = Patience::default();
        let mut running = patience.retries(Instant::now());
        tokio::time::sleep(OUTAGE_PATIENCE - Duration::from_millis(50)).await;
        patience.reset();
        let mut fresh = patience.retries(Instant::now());
        assert!(
            !running.pause().await,
            "the running operation keeps its deadline"
        );
        assert!(
            fresh.pause().await,
            "a failure after an answer has a full window"
        );
    }
}
