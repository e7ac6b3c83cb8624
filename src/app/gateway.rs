//! App: the bundle of use cases the driving adapters (HTTP, GraphQL, SSE) call into, built
//! once by the composition root with the adapters chosen in `wiring`.

use super::auth::AuthService;
use super::config::Secret;
use super::readiness::Readiness;
use super::wiring::{BusAdapter, ReplyBusAdapter, RunnerAdapter, SessionCacheAdapter};

/// The auth use cases with the adapters configuration chose.
pub type Auth = AuthService<RunnerAdapter, SessionCacheAdapter, ReplyBusAdapter>;

/// Everything a request handler may use. Shared as `Arc<Gateway>`.
#[derive(Debug)]
pub struct Gateway {
    pub readiness: Readiness<RunnerAdapter, BusAdapter>,
    pub auth: Auth,
    /// Largest JSON request body accepted on the REST routes.
    pub max_body_bytes: usize,
    /// The `gateway_url` handed to playbooks: where workers reach the internal listener.
    pub internal_url: String,
    /// Bearer secret the internal callback routes require, when set.
    pub callback_secret: Option<Secret>,
}
