//! Adapters (graphql): the HTTP side. `POST /graphql` requires a session (401/503 JSON
//! otherwise, like every REST route) and runs the query with the caller in context (the
//! schema holds the query limits, for both transports); `/graphql/ws` serves subscriptions
//! (graphql-transport-ws and graphql-ws), authenticated at upgrade or in `connection_init`.
//! A socket must send `connection_init` within [`INIT_WAIT`] or is closed (code 4408, by
//! `socket::InitDeadline`), its messages are
//! bounded like request bodies (`GATEWAY_MAX_BODY_BYTES`), and it may run at most
//! [`SOCKET_SUBSCRIPTIONS`] subscriptions at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, ServerError};
use async_graphql_poem::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use poem::web::websocket::{WebSocket, WebSocketConfig};
use poem::{Endpoint, FromRequest, IntoResponse, Request, Response};
use serde_json::Value;

use super::errors::VALIDATION_FAILED;
use super::schema::{Caller, GatewaySchema, IdempotencyHeader, SocketSubscriptions};
use super::socket::InitDeadline;
use crate::adapters::http::session_auth::{authenticate, token_from_request};
use crate::app::Gateway;
use crate::domain::SessionToken;

/// Gives errors async-graphql raised itself (parse, validation, limits) a stable code.
fn tag_uncoded(errors: &mut [ServerError]) {
    for error in errors {
        let coded = error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if !coded {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            extensions.set("code", VALIDATION_FAILED);
        }
    }
}

pub struct GraphqlPost {
    pub schema: GatewaySchema,
    pub gateway: Arc<Gateway>,
}

impl Endpoint for GraphqlPost {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let caller = match authenticate(&self.gateway, &req, false).await {
            Ok((token, session)) => Caller { token, session },
            Err(refusal) => return Ok(refusal),
        };
        let idempotency = req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(|v| IdempotencyHeader(v.to_owned()));
        let (req, mut body) = req.split();
        let GraphQLRequest(mut request) = GraphQLRequest::from_request(&req, &mut body).await?;
        request = request.data(caller);
        if let Some(key) = idempotency {
            request = request.data(key);
        }
        let mut response = self.schema.execute(request).await;
        tag_uncoded(&mut response.errors);
        Ok(GraphQLResponse(response).into_response())
    }
}

pub struct GraphqlWs {
    pub schema: GatewaySchema,
    pub gateway: Arc<Gateway>,
}

/// How long a new socket may take to send `connection_init` before it is closed.
pub const INIT_WAIT: Duration = Duration::from_secs(10);

/// Subscriptions one socket may run at once.
pub const SOCKET_SUBSCRIPTIONS: usize = 100;

/// A token in a `connection_init` payload: `session_token`, or an `Authorization` bearer.
fn payload_token(payload: &Value) -> Option<String> {
    let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_owned);
    text("session_token").or_else(|| {
        text("Authorization")
            .or_else(|| text("authorization"))
            .and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned))
    })
}

impl Endpoint for GraphqlWs {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let at_upgrade = token_from_request(&req, true);
        let (req, mut body) = req.split();
        let websocket = WebSocket::from_request(&req, &mut body).await?;
        let protocol = GraphQLProtocol::from_request(&req, &mut body).await?;
        let (schema, gateway) = (self.schema.clone(), self.gateway.clone());
        let largest = Some(self.gateway.max_body_bytes);
        let config = WebSocketConfig::default()
            .max_message_size(largest)
            .max_frame_size(largest);
        Ok(websocket
            .config(config)
            .protocols(ALL_WEBSOCKET_PROTOCOLS)
            .on_upgrade(move |stream| {
                let (stream, initialised) = InitDeadline::new(stream, INIT_WAIT);
                GraphQLWebSocket::new(stream, schema, protocol)
                    .on_connection_init(move |payload| async move {
                        let raw = payload_token(&payload)
                            .or(at_upgrade)
                            .ok_or("a session is required")?;
                        let token =
                            SessionToken::parse(&raw).map_err(|_| "Invalid or expired session")?;
                        let session = gateway
                            .auth
                            .resolve(&token)
                            .await
                            .map_err(|e| e.to_string())?
                            .ok_or("Invalid or expired session")?;
                        let mut data = Data::default();
                        data.insert(Caller { token, session });
                        data.insert(SocketSubscriptions::new(SOCKET_SUBSCRIPTIONS));
                        initialised.store(true, Ordering::Release);
                        Ok(data)
                    })
                    .serve()
            })
            .into_response())
    }
}
