//! App: the readiness use case. Asks NoETL's health route (at most once a second, so probe
//! storms never reach NoETL) and the bus monitor, and knows whether we are draining.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::ports::{BusMonitor, BusState, PlaybookRunner};

const NOETL_CHECK_EVERY: Duration = Duration::from_secs(1);
const NOETL_CHECK_TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyState {
    Ready,
    Draining,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoetlState {
    Up,
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadinessReport {
    pub state: ReadyState,
    pub noetl: NoetlState,
    pub bus: BusState,
}

#[derive(Debug, Clone)]
pub struct Readiness<R, B> {
    runner: R,
    bus: B,
    draining: Arc<AtomicBool>,
    /// Whether the shared buckets and stream are open (always true without a shared bus).
    shared_open: Arc<AtomicBool>,
    last_noetl: Arc<Mutex<Option<(Instant, NoetlState)>>>,
}

impl<R: PlaybookRunner, B: BusMonitor> Readiness<R, B> {
    pub fn new(runner: R, bus: B) -> Self {
        Self {
            runner,
            bus,
            draining: Arc::new(AtomicBool::new(false)),
            shared_open: Arc::new(AtomicBool::new(true)),
            last_noetl: Arc::new(Mutex::new(None)),
        }
    }

    /// The flag the shared-state opener sets; until it is set a connected bus reads as
    /// degraded, because operations on it still fall back to this process's memory.
    pub fn shared_state_flag(&self) -> Arc<AtomicBool> {
        self.shared_open.store(false, Ordering::SeqCst);
        self.shared_open.clone()
    }

    /// From now on readiness answers `Draining`.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// The shared bus's state now, without asking NoETL.
    pub fn bus_state(&self) -> BusState {
        match self.bus.state() {
            BusState::Connected if !self.shared_open.load(Ordering::SeqCst) => BusState::Degraded,
            state => state,
        }
    }

    pub async fn check(&self) -> ReadinessReport {
        ReadinessReport {
            state: if self.is_draining() {
                ReadyState::Draining
            } else {
                ReadyState::Ready
            },
            noetl: self.noetl().await,
            bus: self.bus_state(),
        }
    }

    async fn noetl(&self) -> NoetlState {
        let mut last = self.last_noetl.lock().await;
        if let Some((at, state)) = *last
            && at.elapsed() < NOETL_CHECK_EVERY
        {
            return state;
        }
        let state = match tokio::time::timeout(NOETL_CHECK_TIMEOUT, self.runner.health()).await {
            Ok(Ok(())) => NoetlState::Up,
            _ => NoetlState::Down,
        };
        *last = Some((Instant::now(), state));
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{InMemoryBus, InMemoryPlaybookRunner};

    #[tokio::test]
    async fn readiness_reports_noetl_down_without_failing_and_draining_as_such() {
        let runner = InMemoryPlaybookRunner::new(["a"]);
        runner.set_down(true);
        let readiness = Readiness::new(runner, InMemoryBus);
        let report = readiness.check().await;
        assert_eq!(report.state, ReadyState::Ready);
        assert_eq!(report.noetl, NoetlState::Down);
        assert_eq!(report.bus, BusState::InMemory);
        readiness.start_draining();
        assert_eq!(readiness.check().await.state, ReadyState::Draining);
    }
}
