//! Adapters: the technology at the edges of the hexagon. `http` drives the application;
//! `noetl`, `nats` and `memory` implement the driven ports; `process` reads and lifts the
//! process's open-file limit.

pub mod http;
pub mod memory;
pub mod nats;
pub mod noetl;
pub mod process;
pub mod trace_context;
