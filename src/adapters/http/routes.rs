//! Adapters (http): assembles the public and internal endpoints and the OpenAPI document.

use std::sync::Arc;

use bytes::Bytes;
use poem::endpoint::make_sync;
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response, Route, get};
use poem_openapi::{OpenApi, OpenApiService, Webhook};

use super::async_callback_api::AsyncCallbackApi;
use super::auth_api::AuthApi;
use super::body_limit::BodyLimit;
use super::callback_api::CallbackApi;
use super::envelope::Envelope;
use super::events::events;
use super::front::Front;
use super::graphql::{GraphqlPost, GraphqlWs, graphiql, graphiql_asset};
use super::health::HealthApi;
use super::metrics_api::MetricsApi;
use super::proxy::{check_before_routing, proxy};
use super::split::{OneOf, PathSplit};
use crate::app::Gateway;

const TITLE: &str = "noetl-gateway";

fn public_api() -> OpenApiService<(HealthApi, AuthApi), ()> {
    OpenApiService::new(
        (HealthApi, AuthApi::default()),
        TITLE,
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Public REST API of the NoETL gateway. Errors: {\"error\",\"code\",\"request_id\"}.",
    )
}

/// The OpenAPI document of the public REST API, as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    spec_json(&public_api())
}

/// The document of an API as committed and served.
fn spec_json<T: OpenApi, W: Webhook>(api: &OpenApiService<T, W>) -> String {
    plain_media_types(&api.spec())
}

/// The answers carry `application/json; charset=utf-8`; the document names the media type
/// without its parameter, which is what client generators and validators match on.
fn plain_media_types(spec: &str) -> String {
    spec.replace(
        "\"application/json; charset=utf-8\"",
        "\"application/json\"",
    )
}

fn internal_api() -> OpenApiService<(HealthApi, CallbackApi, AsyncCallbackApi, MetricsApi), ()> {
    OpenApiService::new(
        (HealthApi, CallbackApi, AsyncCallbackApi, MetricsApi),
        "noetl-gateway internal",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Internal listener: worker callbacks. Bearer GATEWAY_CALLBACK_SECRET when configured.",
    )
}

/// The OpenAPI document of the internal listener (worker callbacks).
pub fn internal_openapi_json() -> String {
    spec_json(&internal_api())
}

/// `GET /openapi.json`: the document, written once when the endpoint is assembled; each
/// answer shares its bytes.
fn openapi_document(document: Bytes) -> impl Endpoint<Output = Response> {
    make_sync(move |_| {
        Response::builder()
            .content_type("application/json")
            .body(document.clone())
    })
}

/// Browsers on the configured origins may call the public routes with credentials. `*`
/// allows any origin (each answer names the caller's origin, as credentials require).
fn cors(gateway: &Gateway) -> Cors {
    let allowed = &gateway.cors.allowed_origins;
    let mut cors = Cors::new()
        .allow_credentials(gateway.cors.allow_credentials)
        .allow_headers([
            "authorization",
            "content-type",
            "x-session-token",
            "x-request-id",
            "idempotency-key",
            "last-event-id",
        ])
        .expose_header("x-request-id")
        .max_age(600);
    if !allowed.iter().any(|o| o == "*") {
        cors = cors.allow_origins(allowed.iter().map(String::as_str));
    }
    cors
}

/// The first segments of the paths in the table beside the REST API (`public_endpoint`'s
/// `others`): a route added there needs its first segment here, or the REST API's table
/// answers it with a 404.
const BESIDE_THE_API: &[&str] = &["noetl", "openapi.json", "docs", "graphql", "events"];

/// Everything browsers and CLIs may call.
pub fn public_endpoint(gateway: Arc<Gateway>) -> impl Endpoint<Output = Response> + 'static {
    let max_body = gateway.max_body_bytes;
    let schema = super::graphql::build(gateway.clone());
    // One description of the REST API serves its document, its docs page and its routes.
    let docs = public_api();
    let document = Bytes::from(spec_json(&docs));
    // The REST API keeps its own table, chosen by path (see `PathSplit`). The proxy
    // streams bodies and enforces its own limit, so it alone is outside `BodyLimit`.
    let limit = BodyLimit::new(max_body);
    let others = Route::new()
        .at("/noetl/*path", proxy)
        .at("/openapi.json", get(openapi_document(document)).with(limit))
        .nest("/docs", docs.swagger_ui().with(limit))
        .at(
            "/graphql",
            get(graphiql)
                .post(GraphqlPost {
                    schema: schema.clone(),
                    gateway: gateway.clone(),
                })
                .with(limit),
        )
        .at("/graphql/assets/:name", get(graphiql_asset).with(limit))
        .at("/events", get(events).with(limit))
        .at(
            "/graphql/ws",
            GraphqlWs {
                schema,
                gateway: gateway.clone(),
            }
            .with(limit),
        );
    let routed = PathSplit::new(docs.into_endpoint().with(limit), others, BESIDE_THE_API)
        .with(Front::new(gateway.clone()).checking(check_before_routing));
    // Boxed when configured, so that without CORS no request's future is sized for it.
    let routed = if gateway.cors.allowed_origins.is_empty() {
        OneOf::First(routed)
    } else {
        OneOf::Second(routed.with(cors(&gateway)).boxed())
    };
    routed.with(Envelope::new(gateway.metrics.clone()))
}

/// Worker callbacks and operator routes, served on the internal listener only.
pub fn internal_endpoint(gateway: Arc<Gateway>) -> impl Endpoint<Output = Response> + 'static {
    let max_body = gateway.max_body_bytes;
    // The API's own route table, not nested in another (see `public_endpoint`).
    internal_api()
        .into_endpoint()
        .with(BodyLimit::new(max_body))
        .with(Front::new(gateway.clone()))
        .with(Envelope::new(gateway.metrics.clone()))
}
