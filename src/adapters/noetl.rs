//! Adapters (noetl): the NoETL REST client behind the `PlaybookRunner` port, over a pooled
//! hyper-util client. Wire shapes live in `dto`; the domain never sees them.

mod client;
mod dto;

pub use client::{NoetlClient, NoetlSettings};
