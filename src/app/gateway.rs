//! App: the bundle of use cases the driving adapters (HTTP, GraphQL, SSE) call into, built
//! once by the composition root with the adapters chosen in `wiring`.

use super::auth::AuthService;
use super::callbacks::CallbackService;
use super::config::Secret;
use super::executions::ExecutionService;
use super::readiness::Readiness;
use super::wiring::{
    BusAdapter, EventLogAdapter, ReplyBusAdapter, RequestStoreAdapter, RunnerAdapter,
    SessionCacheAdapter,
};

/// The auth use cases with the adapters configuration chose.
pub type Auth = AuthService<RunnerAdapter, SessionCacheAdapter, ReplyBusAdapter>;
/// The execution use cases with the adapters configuration chose.
pub type Executions = ExecutionService<RunnerAdapter, RequestStoreAdapter, EventLogAdapter>;
/// The callback use cases with the adapters configuration chose.
pub type Callbacks = CallbackService<RequestStoreAdapter, EventLogAdapter>;

/// Everything a request handler may use. Shared as `Arc<Gateway>`.
#[derive(Debug)]
pub struct Gateway {
    pub readiness: Readiness<RunnerAdapter, BusAdapter>,
    pub auth: Auth,
    pub executions: Executions,
    pub callbacks: Callbacks,
    /// Query limits and switches of the GraphQL endpoint.
    pub graphql: super::config::GraphqlConfig,
    /// Require `allowed:true` from the access check before executing a playbook.
    pub enforce_playbook_access: bool,
    /// Turns true when the gateway starts draining: open streams say goodbye and end.
    pub draining: tokio::sync::watch::Receiver<bool>,
    /// The bound on event streams one session holds open here.
    pub streams: super::stream_quota::StreamQuota,
    /// Heartbeat of the SSE streams.
    pub heartbeat: std::time::Duration,
    /// Streams proxied requests to NoETL.
    pub forwarder: crate::adapters::noetl::HyperForwarder,
    /// Largest request body the proxy passes on.
    pub proxy_max_body_bytes: usize,
    /// Roles the proxy requires for some upstream paths.
    pub proxy_policy: crate::domain::PathPolicy,
    /// Cross-origin rules of the public routes.
    pub cors: super::config::CorsConfig,
    /// Largest JSON request body accepted on the REST routes.
    pub max_body_bytes: usize,
    /// The `gateway_url` handed to playbooks: where workers reach the internal listener.
    pub internal_url: String,
    /// Bearer secret the internal callback routes require, when set.
    pub callback_secret: Option<Secret>,
    /// Counters and histograms served at `/metrics`.
    pub metrics: std::sync::Arc<super::metrics::Metrics>,
}
