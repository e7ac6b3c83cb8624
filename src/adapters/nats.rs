//! Adapters (nats): async-nats behind the shared-state ports. `connection` owns the one
//! client, connects in the background and reports its state; the K/V session cache and the
//! reply bus are built on it and fail fast (callers degrade) while it is away.

mod bucket;
mod connection;
mod event_log;
mod follower;
mod keys;
mod listing;
mod reply_bus;
mod request_store;
mod session_cache;

pub use connection::{NatsConnection, NatsError, RECONNECT_GRACE, redact_url};
pub use event_log::{EventLogSettings, NatsEventLog};
pub use reply_bus::NatsReplyBus;
pub use request_store::NatsRequestStore;
pub use session_cache::NatsSessionCache;
