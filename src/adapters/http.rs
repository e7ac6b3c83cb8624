//! Adapters (http): the poem edge of the gateway. REST routes are poem-openapi from the first
//! line (the OpenAPI document is generated from them); every non-GraphQL, non-SSE error
//! leaves through `error` as `{"error","code","request_id"}`. Handlers reach the application
//! through the `Gateway` placed in request data, so the API types stay plain structs and the
//! spec can be generated without a running gateway.

mod body_limit;
mod envelope;
mod error;
mod health;
mod request_id;
mod routes;

pub use error::{ErrorBody, ErrorCode};
pub use request_id::CorrelationId;
pub use routes::{internal_endpoint, openapi_json, public_endpoint};
