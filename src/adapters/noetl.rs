//! Adapters (noetl): the NoETL REST client behind the `PlaybookRunner` port and the streaming
//! `Forwarder` of the proxy, both over pooled hyper-util clients. Wire shapes live in `dto`; the domain never sees them.

mod client;
mod dto;
mod forwarder;

pub use client::{NoetlClient, NoetlSettings};
pub use forwarder::{ForwarderSettings, HyperForwarder};
