//! App: the bundle of use cases the driving adapters (HTTP, GraphQL, SSE) call into, built
//! once by the composition root with the adapters chosen in `wiring`.

use super::readiness::Readiness;
use super::wiring::{BusAdapter, RunnerAdapter};

/// Everything a request handler may use. Shared as `Arc<Gateway>`.
#[derive(Debug)]
pub struct Gateway {
    pub readiness: Readiness<RunnerAdapter, BusAdapter>,
    /// Largest JSON request body accepted on the REST routes.
    pub max_body_bytes: usize,
    /// The `gateway_url` handed to playbooks: where workers reach the internal listener.
    pub internal_url: String,
}
