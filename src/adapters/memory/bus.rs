//! Adapters (memory): the bus monitor of single-replica mode.

use crate::ports::{BusMonitor, BusState};

/// Always reports [`BusState::InMemory`].
#[derive(Debug, Clone, Copy, Default)]
pub struct InMemoryBus;

impl BusMonitor for InMemoryBus {
    fn state(&self) -> BusState {
        BusState::InMemory
    }
}
