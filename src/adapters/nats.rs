//! Adapters (nats): async-nats behind the shared-state ports. `connection` owns the one
//! client, connects in the background and reports its state; the K/V, stream and reply-bus
//! adapters are built on it.

mod connection;

pub use connection::{NatsConnection, NatsError, redact_url};
