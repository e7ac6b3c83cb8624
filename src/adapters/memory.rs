//! Adapters (memory): the in-memory twin of every driven port. They are the embedded
//! single-replica default (`NATS_URL=memory`), the degraded fallback while NATS is away, and
//! the test doubles. Depends on domain, ports and tokio only.

mod bus;
mod event_log;
mod forwarder;
mod playbook_runner;
mod reply_bus;
mod request_store;
mod session_cache;
mod ttl_map;

pub use bus::InMemoryBus;
pub use event_log::InMemoryEventLog;
pub use forwarder::{InMemoryForwarder, SeenRequest};
pub use playbook_runner::{InMemoryPlaybookRunner, StartedExecution};
pub use reply_bus::InMemoryReplyBus;
pub use request_store::InMemoryRequestStore;
pub use session_cache::InMemorySessionCache;
