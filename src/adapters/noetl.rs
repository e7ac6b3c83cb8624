//! Adapters (noetl): the NoETL REST client behind the `PlaybookRunner` port and the streaming
//! `Forwarder` of the proxy (over connections its requests drive themselves). Wire shapes live in `dto`; the domain never sees them.

mod client;
mod dto;
mod forwarder;
mod upstream;

pub use client::{NoetlClient, NoetlSettings};
pub use forwarder::{ForwarderSettings, HyperForwarder};
