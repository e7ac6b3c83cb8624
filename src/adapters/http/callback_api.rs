//! Adapters (http): the internal routes workers call back on. Served on the internal
//! listener only; when `GATEWAY_CALLBACK_SECRET` is set they require it as a bearer token.

use std::sync::Arc;

use super::checked::{AuthStatusRule, Checked, JsonString, RequestIdRule};
use super::wire_execution_id::WireExecutionId;
use poem::Request;
use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::{Object, OpenApi, Tags};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use super::error::{ApiError, ErrorCode, Reply};
use super::json_in::JsonIn;
use super::json_out::JsonOut;
use super::request_id::CorrelationId;
use crate::app::Gateway;
use crate::domain::{AuthReply, RequestId};
use crate::ports::ReplyOutcome;

#[derive(Tags)]
pub(super) enum InternalTag {
    /// Worker callbacks (internal listener only).
    Internal,
}

/// An auth playbook's callback.
#[derive(Debug, Object)]
pub struct AuthCallbackBody {
    /// The `request_id` the gateway put in the workload.
    pub request_id: Checked<RequestIdRule>,
    /// The execution that reports, as a JSON string or integer.
    #[oai(nullable)]
    pub execution_id: Option<WireExecutionId>,
    #[oai(nullable)]
    pub step: Option<JsonString>,
    /// `success` or `error` (also `ok`, `completed`, `failed`, `failure`; any case).
    pub status: Checked<AuthStatusRule>,
    #[oai(nullable)]
    pub data: Option<Value>,
}

impl AuthCallbackBody {
    fn try_into_domain(self) -> Result<AuthReply, String> {
        let request_id = RequestId::parse(&self.request_id).map_err(|e| e.to_string())?;
        let execution_id = self.execution_id.map(|w| w.0);
        let success = match self.status.trim().to_ascii_lowercase().as_str() {
            "success" | "ok" | "completed" => true,
            "error" | "failed" | "failure" => false,
            _ => return Err("status: must be success or error".to_owned()),
        };
        Ok(AuthReply {
            request_id,
            execution_id,
            step: self.step.map(Into::into),
            success,
            data: self.data.unwrap_or(Value::Object(serde_json::Map::new())),
        })
    }
}

/// Whether the callback reached a waiting login or access check.
#[derive(Debug, Object, Serialize)]
pub struct DeliveredOk {
    pub delivered: bool,
    pub message: String,
}

/// Compares without an early exit, so timing does not reveal how much of a guess matched.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, b) in expected.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(0) ^ b);
    }
    diff == 0
}

/// `Ok` when no secret is configured or the request carries it.
pub(super) fn check_secret(
    gateway: &Gateway,
    req: &Request,
    id: &CorrelationId,
) -> Result<(), ApiError> {
    let Some(secret) = &gateway.callback_secret else {
        return Ok(());
    };
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or_default();
    if same_secret(given.as_bytes(), secret.expose().as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::unauthenticated(
            "missing or wrong callback secret",
            id,
        ))
    }
}

pub struct CallbackApi;

#[OpenApi(prefix_path = "/api/internal", tag = "InternalTag::Internal")]
impl CallbackApi {
    /// An auth playbook's result (login, validate, check-access).
    #[oai(path = "/callback", method = "post")]
    async fn callback(
        &self,
        body: JsonIn<AuthCallbackBody>,
        gateway: Data<&Arc<Gateway>>,
        id: CorrelationId,
        req: &Request,
    ) -> Reply<DeliveredOk> {
        if let Err(e) = check_secret(&gateway, req, &id) {
            return e.into();
        }
        let reply = match body.0.try_into_domain() {
            Ok(r) => r,
            Err(message) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadUserInput,
                    message,
                    &id,
                )
                .into();
            }
        };
        let outcome = gateway
            .auth
            .deliver_callback(reply)
            .instrument(tracing::info_span!("callback", kind = "auth"))
            .await;
        gateway.metrics.callback(
            "auth",
            if matches!(outcome, Ok(ReplyOutcome::Accepted)) {
                "delivered"
            } else {
                "rejected"
            },
        );
        let (delivered, message) = match outcome {
            Ok(ReplyOutcome::Accepted) => (true, "Callback delivered"),
            Ok(ReplyOutcome::Refused) => (
                false,
                "Callback refused: it does not match the pending request",
            ),
            Ok(ReplyOutcome::NoWaiter) => (false, "No request is waiting for this callback"),
            Err(e) => return ApiError::from_auth(&e, &id).into(),
        };
        tracing::info!(request_id = %id.as_str(), delivered, "auth callback");
        Reply::Ok(JsonOut::Value(DeliveredOk {
            delivered,
            message: message.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"abcd", b"abc"));
        assert!(!same_secret(b"", b"abc"));
    }
}
