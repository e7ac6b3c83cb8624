//! Port: the state of the shared bus and store (NATS), for readiness and degraded mode.

/// Where shared state lives right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusState {
    /// Single-replica mode chosen by configuration: everything stays in this process.
    InMemory,
    /// Connected to the shared bus.
    Connected,
    /// The bus is configured but out of reach; the gateway serves degraded from memory.
    Degraded,
}

impl BusState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InMemory => "memory",
            Self::Connected => "connected",
            Self::Degraded => "degraded",
        }
    }
}

/// Reports the bus state without waiting.
pub trait BusMonitor: Clone + Send + Sync + 'static {
    fn state(&self) -> BusState;
}
