//! Adapters (http): assembles the public and internal endpoints and the OpenAPI document.

use std::sync::Arc;

use poem::middleware::{CatchPanic, Tracing};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

use super::body_limit::BodyLimit;
use super::envelope::Envelope;
use super::health::HealthApi;
use crate::app::Gateway;

const TITLE: &str = "noetl-gateway";

fn public_api() -> OpenApiService<HealthApi, ()> {
    OpenApiService::new(HealthApi, TITLE, env!("CARGO_PKG_VERSION")).description(
        "Public REST API of the NoETL gateway. Errors: {\"error\",\"code\",\"request_id\"}.",
    )
}

/// The OpenAPI document of the public REST API, as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    public_api().spec()
}

/// Everything browsers and CLIs may call.
pub fn public_endpoint(gateway: Arc<Gateway>) -> impl Endpoint + 'static {
    let max_body = gateway.max_body_bytes;
    Route::new()
        .nest("/", public_api())
        .with(BodyLimit::new(max_body))
        .with(CatchPanic::new())
        .data(gateway)
        .with(Tracing)
        .with(Envelope)
}

/// Worker callbacks and operator routes, served on the internal listener only.
pub fn internal_endpoint(gateway: Arc<Gateway>) -> impl Endpoint + 'static {
    let max_body = gateway.max_body_bytes;
    Route::new()
        .nest(
            "/",
            OpenApiService::new(HealthApi, TITLE, env!("CARGO_PKG_VERSION")),
        )
        .with(BodyLimit::new(max_body))
        .with(CatchPanic::new())
        .data(gateway)
        .with(Tracing)
        .with(Envelope)
}
