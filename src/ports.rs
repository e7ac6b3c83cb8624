//! Ports: the traits the application needs from the world (driven ports). Each has an
//! in-memory twin in `adapters::memory` and a technology adapter; one contract suite
//! (`tests/port_contracts.rs`) runs against every implementation. Imports only the domain.

mod bus_monitor;
mod event_log;
mod forwarder;
mod playbook_runner;
mod reply_bus;
mod request_store;
mod session_cache;

pub use bus_monitor::{BusMonitor, BusState};
pub use event_log::{EventLog, EventLogError, EventStream};
pub use forwarder::{BodyStream, ForwardError, ForwardRequest, ForwardResponse, Forwarder};
pub use playbook_runner::{PlaybookRunner, RunnerError};
pub use reply_bus::{IncomingReply, ReplyBus, ReplyBusError, ReplyOutcome, ReplyStream};
pub use request_store::{RequestStore, RequestStoreError};
pub use session_cache::{
    CacheLookup, Invalidation, InvalidationStream, SessionCache, SessionCacheError,
};

/// The boxed infrastructure cause carried by port errors.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;
