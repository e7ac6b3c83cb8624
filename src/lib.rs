//! noetl-gateway: the API gateway in front of a NoETL server.
//!
//! The crate is a hexagon: `domain` holds pure rules and types, `ports` the traits the
//! application needs from the world, `app` the use cases, configuration and the one
//! composition root, and `adapters` the technology (poem, hyper, async-nats, in-memory twins).
//! Dependencies point inward; `tests/architecture.rs` enforces it.

pub mod adapters;
pub mod allocator;
pub mod app;
pub mod domain;
pub mod ports;
mod sync;
