//! Adapters (http): the internal routes that carry results and progress for real-time
//! clients (`/api/internal/callback/async`, `/api/internal/progress`).

use std::sync::Arc;

use super::checked::{Checked, JsonString, RequestIdRule, ResultStatusRule};
use super::wire_execution_id::WireExecutionId;
use poem::Request;
use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;
use tracing::Instrument;

use super::callback_api::{InternalTag, check_secret};
use super::error::{ApiError, ErrorBody, ErrorCode};
use super::json_in::JsonIn;
use super::request_id::CorrelationId;
use crate::adapters::trace_context::current_traceparent;
use crate::app::Gateway;
use crate::app::callbacks::{CallbackError, Delivery, ProgressReport, ResultReport};
use crate::domain::{EventError, ExecutionId, ExecutionState, RequestId};

/// The error a playbook reports.
#[derive(Debug, Object)]
pub struct CallbackErrorBody {
    /// JSON-RPC style code; -32000 (playbook failed) when absent.
    #[oai(nullable)]
    pub code: Option<i64>,
    pub message: JsonString,
    #[oai(nullable)]
    pub data: Option<Value>,
}

/// A playbook's result for a real-time client.
#[derive(Debug, Object)]
pub struct AsyncResultBody {
    /// The `request_id` the gateway put in the workload.
    pub request_id: Checked<RequestIdRule>,
    /// The execution that reports, as a JSON string or integer.
    #[oai(nullable)]
    pub execution_id: Option<WireExecutionId>,
    /// `COMPLETED` or `FAILED` (also `SUCCESS`, `ERROR`; any case).
    pub status: Checked<ResultStatusRule>,
    #[oai(nullable)]
    pub data: Option<Value>,
    #[oai(nullable)]
    pub error: Option<CallbackErrorBody>,
}

/// A playbook's progress for a real-time client.
#[derive(Debug, Object)]
pub struct ProgressBody {
    /// The `request_id` the gateway put in the workload.
    pub request_id: Checked<RequestIdRule>,
    /// The execution that reports, as a JSON string or integer.
    #[oai(nullable)]
    pub execution_id: Option<WireExecutionId>,
    #[oai(nullable)]
    pub step: Option<JsonString>,
    #[oai(nullable)]
    pub message: Option<JsonString>,
    #[oai(nullable)]
    pub progress: Option<Value>,
}

/// `{"status":"delivered"}`, `{"status":"sent"}` or `{"status":"queued","clientDisconnected":true}`.
#[derive(Debug, Object)]
pub struct DeliveryBody {
    pub status: String,
    #[oai(rename = "clientDisconnected", skip_serializing_if_is_none)]
    pub client_disconnected: Option<bool>,
}

#[derive(ApiResponse)]
pub enum CallbackReply {
    /// Logged, and the client streams from this replica.
    #[oai(status = 200)]
    Delivered(Json<DeliveryBody>),
    /// Logged; the client is not streaming here and gets it when it (re)connects anywhere.
    #[oai(status = 202)]
    Queued(Json<DeliveryBody>),
    /// Malformed body (`BAD_USER_INPUT`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// The body is larger than the configured limit (`PAYLOAD_TOO_LARGE`).
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not declared as JSON (`UNSUPPORTED_MEDIA_TYPE`).
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// Missing or wrong callback secret (`UNAUTHENTICATED`).
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// No pending request has this `request_id` (`{"error":"Request not found"}`).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The `execution_id` is not the request's execution (`CONFLICT`).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The event could not be stored; retry (`UNAVAILABLE`).
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl CallbackReply {
    /// How the callback is counted: `delivered`, `queued` or `rejected`.
    fn outcome(&self) -> &'static str {
        match self {
            Self::Delivered(_) => "delivered",
            Self::Queued(_) => "queued",
            _ => "rejected",
        }
    }
}

impl From<ApiError> for CallbackReply {
    fn from(err: ApiError) -> Self {
        let body = Json(err.body);
        match err.status.as_u16() {
            401 => Self::Unauthorized(body),
            404 => Self::NotFound(body),
            409 => Self::Conflict(body),
            413 => Self::PayloadTooLarge(body),
            415 => Self::UnsupportedMediaType(body),
            503 => Self::Unavailable(body),
            _ => Self::BadRequest(body),
        }
    }
}

/// The secret check and id parsing every callback starts with.
fn admit(
    gateway: &Gateway,
    req: &Request,
    id: &CorrelationId,
    request_id: &str,
    execution_id: Option<WireExecutionId>,
) -> Result<(RequestId, Option<ExecutionId>), CallbackReply> {
    check_secret(gateway, req, id).map_err(CallbackReply::from)?;
    let request_id = RequestId::parse(request_id).map_err(|e| bad(e.to_string(), id))?;
    Ok((request_id, execution_id.map(|w| w.0)))
}

fn bad(message: String, id: &CorrelationId) -> CallbackReply {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadUserInput,
        message,
        id,
    )
    .into()
}

fn answer(
    outcome: Result<Delivery, CallbackError>,
    sent: &str,
    id: &CorrelationId,
) -> CallbackReply {
    match outcome {
        Ok(Delivery::Delivered) => CallbackReply::Delivered(Json(DeliveryBody {
            status: sent.to_owned(),
            client_disconnected: None,
        })),
        Ok(Delivery::Queued) => CallbackReply::Queued(Json(DeliveryBody {
            status: "queued".to_owned(),
            client_disconnected: Some(true),
        })),
        Err(CallbackError::UnknownRequest) => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "Request not found",
            id,
        )
        .into(),
        Err(err @ CallbackError::WrongExecution) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            err.to_string(),
            id,
        )
        .into(),
        Err(err) => {
            tracing::warn!(error = %err, cause = ?std::error::Error::source(&err).map(ToString::to_string), "callback not stored");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                err.to_string(),
                id,
            )
            .into()
        }
    }
}

pub struct AsyncCallbackApi;

#[OpenApi(prefix_path = "/api/internal", tag = "InternalTag::Internal")]
impl AsyncCallbackApi {
    /// A playbook's result for the client that started it.
    #[oai(path = "/callback/async", method = "post")]
    async fn result(
        &self,
        body: JsonIn<AsyncResultBody>,
        gateway: Data<&Arc<Gateway>>,
        id: CorrelationId,
        req: &Request,
    ) -> CallbackReply {
        let reply = take_result(body.0, &gateway, &id, req)
            .instrument(tracing::info_span!("callback", kind = "result"))
            .await;
        gateway.metrics.callback("result", reply.outcome());
        reply
    }

    /// A playbook's progress for the client that started it.
    #[oai(path = "/progress", method = "post")]
    async fn progress(
        &self,
        body: JsonIn<ProgressBody>,
        gateway: Data<&Arc<Gateway>>,
        id: CorrelationId,
        req: &Request,
    ) -> CallbackReply {
        let reply = take_progress(body.0, &gateway, &id, req)
            .instrument(tracing::info_span!("callback", kind = "progress"))
            .await;
        gateway.metrics.callback("progress", reply.outcome());
        reply
    }
}

async fn take_result(
    body: AsyncResultBody,
    gateway: &Gateway,
    id: &CorrelationId,
    req: &Request,
) -> CallbackReply {
    let (request_id, execution_id) =
        match admit(gateway, req, id, &body.request_id, body.execution_id) {
            Ok(ids) => ids,
            Err(refusal) => return refusal,
        };
    let state = match body.status.trim().to_ascii_uppercase().as_str() {
        "COMPLETED" | "SUCCESS" => ExecutionState::Completed,
        "FAILED" | "ERROR" => ExecutionState::Failed,
        _ => return bad("status: must be COMPLETED or FAILED".to_owned(), id),
    };
    let error = body.error.map(|e| EventError {
        code: e.code.unwrap_or(-32000),
        message: e.message.into(),
        data: e.data,
    });
    let error = match (state, error) {
        (ExecutionState::Failed, None) => Some(EventError {
            code: -32000,
            message: "Playbook failed".to_owned(),
            data: None,
        }),
        (_, e) => e,
    };
    let report = ResultReport {
        request_id,
        execution_id,
        state,
        data: body.data,
        error,
        trace: current_traceparent(),
    };
    answer(gateway.callbacks.result(report).await, "delivered", id)
}

async fn take_progress(
    body: ProgressBody,
    gateway: &Gateway,
    id: &CorrelationId,
    req: &Request,
) -> CallbackReply {
    let (request_id, execution_id) =
        match admit(gateway, req, id, &body.request_id, body.execution_id) {
            Ok(ids) => ids,
            Err(refusal) => return refusal,
        };
    let report = ProgressReport {
        request_id,
        execution_id,
        step: body.step.map(Into::into),
        message: body.message.map(Into::into),
        progress: body.progress,
        trace: current_traceparent(),
    };
    answer(gateway.callbacks.progress(report).await, "sent", id)
}
