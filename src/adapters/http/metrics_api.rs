//! Adapters (http): `GET /metrics` on the internal listener, Prometheus text format.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::PlainText;
use poem_openapi::{OpenApi, Tags};

use crate::adapters::process;
use crate::app::Gateway;
use crate::ports::BusState;

#[derive(Tags)]
enum MetricsTag {
    /// Operational metrics for Prometheus.
    Metrics,
}

pub struct MetricsApi;

#[OpenApi(tag = "MetricsTag::Metrics")]
impl MetricsApi {
    /// Requests by route and status with latency, session lookups by cache level, NoETL
    /// calls, auth operations waiting on NoETL and refused, the proxy's connections to NoETL
    /// and its refusals, SSE connections, callbacks, the NATS connection and open file
    /// descriptors against their limit, as Prometheus text.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self, gateway: Data<&Arc<Gateway>>) -> PlainText<String> {
        gateway
            .metrics
            .set_nats_connected(match gateway.readiness.bus_state() {
                BusState::Connected => 1,
                BusState::Degraded => 0,
                BusState::InMemory => -1,
            });
        gateway
            .metrics
            .set_auth_waiting(gateway.auth.waiting_on_backend());
        gateway
            .metrics
            .set_proxy_connections(gateway.forwarder.open_connections());
        // Listing the descriptors reads a directory of one entry each (tens of thousands
        // with many streams held): off the async workers.
        if let Ok(Some((open, limit))) = tokio::task::spawn_blocking(process::open_files).await {
            gateway.metrics.set_open_files(open, limit);
        }
        PlainText(gateway.metrics.render())
    }
}
