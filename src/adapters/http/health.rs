//! Adapters (http): `/health`, `/livez` and `/readyz`.
//!
//! `/health` answers `{"status":"ok"}` (the upstream-compatible probe). `/readyz` reports
//! NoETL and NATS; only draining makes it 503: a NoETL or NATS outage is reported, not
//! fatal, because the gateway still serves cached sessions and clear errors meanwhile.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::app::Gateway;
use crate::app::readiness::{NoetlState, ReadyState};

#[derive(Tags)]
enum HealthTag {
    /// Liveness, readiness and the upstream-compatible health probe.
    Health,
}

/// `{"status":"ok"}` whenever the process serves requests.
#[derive(Debug, Object)]
pub struct HealthBody {
    /// Always `ok`.
    pub status: String,
    pub service: String,
    pub version: String,
}

/// The gateway's view of its dependencies.
#[derive(Debug, Object)]
pub struct ReadinessBody {
    /// `ready` or `draining`.
    pub status: String,
    /// `up` or `down`.
    pub noetl: String,
    /// `connected`, `degraded` (configured but unreachable: serving from memory) or `memory`.
    pub nats: String,
}

#[derive(ApiResponse)]
pub enum ReadinessResponse {
    /// Serving; see the fields for degraded dependencies.
    #[oai(status = 200)]
    Ready(Json<ReadinessBody>),
    /// Draining for shutdown: send no new traffic.
    #[oai(status = 503)]
    Draining(Json<ReadinessBody>),
}

pub struct HealthApi;

#[OpenApi(tag = "HealthTag::Health")]
impl HealthApi {
    /// Health probe compatible with the upstream gateway.
    #[oai(path = "/health", method = "get")]
    async fn health(&self) -> Json<HealthBody> {
        Json(HealthBody {
            status: "ok".to_owned(),
            service: "noetl-gateway".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    /// Liveness: the process runs and answers.
    #[oai(path = "/livez", method = "get")]
    async fn livez(&self) -> Json<HealthBody> {
        self.health().await
    }

    /// Readiness: NoETL and NATS state; 503 only while draining.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self, gateway: Data<&Arc<Gateway>>) -> ReadinessResponse {
        let report = gateway.readiness.check().await;
        let body = ReadinessBody {
            status: match report.state {
                ReadyState::Ready => "ready",
                ReadyState::Draining => "draining",
            }
            .to_owned(),
            noetl: match report.noetl {
                NoetlState::Up => "up",
                NoetlState::Down => "down",
            }
            .to_owned(),
            nats: report.bus.as_str().to_owned(),
        };
        match report.state {
            ReadyState::Ready => ReadinessResponse::Ready(Json(body)),
            ReadyState::Draining => ReadinessResponse::Draining(Json(body)),
        }
    }
}
