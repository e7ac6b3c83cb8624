//! Adapters (http): the poem edge of the gateway. REST routes are poem-openapi from the first
//! line (the OpenAPI document is generated from them); every non-GraphQL, non-SSE error
//! leaves through `error` as `{"error","code","request_id"}`. Handlers reach the application
//! through the `Gateway` placed in request data, so the API types stay plain structs and the
//! spec can be generated without a running gateway.

mod admission;
mod answer_memo;
mod async_callback_api;
mod auth_api;
mod auth_dto;
mod body_limit;
mod callback_api;
mod checked;
mod envelope;
mod error;
mod events;
mod front;
pub mod graphql;
mod head_limit;
mod health;
mod json_in;
mod json_out;
mod metrics_api;
mod proxy;
mod proxy_headers;
mod proxy_shortcut;
mod quiet;
mod request_id;
mod route_label;
mod routes;
mod send_timeout;
mod server;
mod session_auth;
mod split;
mod stall;
mod wire_execution_id;

pub use admission::Admission;
pub use error::{ErrorBody, ErrorCode};
pub use proxy_shortcut::proxy_shortcut;
pub use request_id::CorrelationId;
pub use routes::{internal_endpoint, internal_openapi_json, openapi_json, public_endpoint};
pub use server::{ConnectionLimits, Shortcut, serve};
pub use session_auth::token_from_request;
