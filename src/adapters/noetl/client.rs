//! Adapters (noetl): `NoetlClient`, the `PlaybookRunner` over NoETL's REST API.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tracing::Instrument;

use super::super::trace_context::{TRACEPARENT, current_traceparent};
use super::dto::{ExecuteAnswer, StatusAnswer, ValidateAnswer, error_message, list_items};
use crate::app::metrics::Metrics;
use crate::domain::{
    AccessDecision, AccessQuery, ExecutionDetail, ExecutionId, ExecutionStatus, LoginRequest,
    LoginVerdict, PlaybookPath, Session, SessionToken,
};
use crate::ports::{PlaybookRunner, RunnerError};

/// Largest JSON answer read from NoETL's API routes (the proxy streams; this client does not).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// How to reach NoETL.
#[derive(Debug, Clone)]
pub struct NoetlSettings {
    /// `http://host:port`, no trailing slash.
    pub base_url: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// The credential name the server's auth routes look sessions up with.
    pub session_credential: String,
}

/// Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct NoetlClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: NoetlSettings,
    http: Client<HttpConnector, Full<Bytes>>,
    metrics: Arc<Metrics>,
}

impl NoetlClient {
    pub fn new(settings: NoetlSettings, metrics: Arc<Metrics>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Self {
            inner: Arc::new(Inner {
                settings,
                http,
                metrics,
            }),
        }
    }

    /// Sends one JSON request and reads the JSON answer (an empty body reads as `null`), in
    /// a span named after `op` that the request's `traceparent` continues.
    async fn call(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), RunnerError> {
        let span = tracing::info_span!(
            "noetl",
            otel.name = %format_args!("noetl {op}"),
            otel.kind = "client",
            noetl.operation = op,
            http.request.method = %method,
            http.response.status_code = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        let result = self
            .exchange(method, path, body)
            .instrument(span.clone())
            .await;
        let outcome = match &result {
            Ok((status, _)) => {
                span.record("http.response.status_code", status.as_u16());
                if status.is_server_error() {
                    "server_error"
                } else {
                    "ok"
                }
            }
            Err(RunnerError::Timeout) => "timeout",
            Err(_) => "unavailable",
        };
        self.inner
            .metrics
            .noetl_call(op, outcome, started.elapsed());
        result
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), RunnerError> {
        let uri = format!("{}{}", self.inner.settings.base_url, path);
        let payload = match body {
            Some(v) => Bytes::from(
                serde_json::to_vec(v).map_err(|e| RunnerError::InvalidResponse(e.to_string()))?,
            ),
            None => Bytes::new(),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(&uri)
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(parent) = current_traceparent() {
            request = request.header(TRACEPARENT, parent);
        }
        let request = request
            .body(Full::new(payload))
            .map_err(|e| RunnerError::InvalidResponse(format!("bad request to {uri}: {e}")))?;
        let exchange = async {
            let response = self
                .inner
                .http
                .request(request)
                .await
                .map_err(|e| RunnerError::Unavailable(Box::new(e)))?;
            let status = response.status();
            let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES);
            let bytes = limited
                .collect()
                .await
                .map_err(RunnerError::Unavailable)?
                .to_bytes();
            Ok::<_, RunnerError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.inner.settings.request_timeout, exchange)
            .await
            .map_err(|_| RunnerError::Timeout)??;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(
                |_| json!({"error": String::from_utf8_lossy(&bytes[..bytes.len().min(512)])}),
            )
        };
        Ok((status, value))
    }

    fn refused(status: StatusCode, body: &Value) -> RunnerError {
        RunnerError::Rejected {
            status: status.as_u16(),
            message: error_message(body),
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, RunnerError> {
        serde_json::from_value(value).map_err(|e| RunnerError::InvalidResponse(e.to_string()))
    }
}

impl PlaybookRunner for NoetlClient {
    async fn start(&self, path: &PlaybookPath, payload: Value) -> Result<ExecutionId, RunnerError> {
        let body = json!({"path": path.as_str(), "payload": with_trace(payload)});
        let (status, answer) = self
            .call("execute", Method::POST, "/api/execute", Some(&body))
            .await?;
        match status {
            s if s.is_success() => Ok(Self::parse::<ExecuteAnswer>(answer)?.execution_id),
            StatusCode::NOT_FOUND => Err(RunnerError::PlaybookNotFound(path.to_string())),
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn status(&self, id: &ExecutionId) -> Result<ExecutionStatus, RunnerError> {
        let route = format!("/api/executions/{}/status", id.as_str());
        let (status, answer) = self.call("status", Method::GET, &route, None).await?;
        match status {
            s if s.is_success() => Ok(Self::parse::<StatusAnswer>(answer)?.into_status(id)),
            StatusCode::NOT_FOUND => Err(RunnerError::ExecutionNotFound(id.to_string())),
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn detail(&self, id: &ExecutionId) -> Result<ExecutionDetail, RunnerError> {
        let route = format!("/api/executions/{}", id.as_str());
        let (status, mut answer) = self.call("detail", Method::GET, &route, None).await?;
        match status {
            s if s.is_success() => {
                let events = match answer.get_mut("events").map(Value::take) {
                    Some(Value::Array(events)) => events,
                    _ => Vec::new(),
                };
                let parsed: StatusAnswer = Self::parse(answer)?;
                Ok(ExecutionDetail {
                    status: parsed.into_status(id),
                    events,
                })
            }
            StatusCode::NOT_FOUND => Err(RunnerError::ExecutionNotFound(id.to_string())),
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn list(&self, limit: u32, offset: u32) -> Result<Vec<ExecutionStatus>, RunnerError> {
        let route = format!("/api/executions?limit={limit}&offset={offset}");
        let (status, answer) = self.call("list", Method::GET, &route, None).await?;
        if !status.is_success() {
            return Err(Self::refused(status, &answer));
        }
        list_items(answer)
            .into_iter()
            .map(|item| {
                let parsed: StatusAnswer = Self::parse(item)?;
                let id = parsed.execution_id.clone().ok_or_else(|| {
                    RunnerError::InvalidResponse("an execution without an id".into())
                })?;
                Ok(parsed.into_status(&id))
            })
            .collect()
    }

    async fn cancel(&self, id: &ExecutionId, reason: &str) -> Result<(), RunnerError> {
        let route = format!("/api/executions/{}/cancel", id.as_str());
        let body = json!({"reason": reason, "cascade": true});
        let (status, answer) = self
            .call("cancel", Method::POST, &route, Some(&body))
            .await?;
        match status {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(RunnerError::ExecutionNotFound(id.to_string())),
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn rerun(&self, id: &ExecutionId, variables: Value) -> Result<ExecutionId, RunnerError> {
        let route = format!("/api/executions/{}/rerun", id.as_str());
        let body = json!({"variables": with_trace(variables)});
        let (status, answer) = self
            .call("rerun", Method::POST, &route, Some(&body))
            .await?;
        match status {
            s if s.is_success() => Ok(Self::parse::<ExecuteAnswer>(answer)?.execution_id),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                Err(RunnerError::NotSupported("rerun"))
            }
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn validate_session(&self, token: &SessionToken) -> Result<Option<Session>, RunnerError> {
        let body = json!({
            "session_token": token.expose(),
            "credential": self.inner.settings.session_credential,
        });
        let (status, answer) = self
            .call(
                "validate_session",
                Method::POST,
                "/api/auth/session/validate",
                Some(&body),
            )
            .await?;
        match status {
            s if s.is_success() => Ok(Self::parse::<ValidateAnswer>(answer)?.into_session()),
            StatusCode::UNAUTHORIZED => Ok(None),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                Err(RunnerError::NotSupported("session validation"))
            }
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn login(&self, request: &LoginRequest) -> Result<LoginVerdict, RunnerError> {
        let body = json!({
            "auth0_token": request.auth0_token.expose(),
            "auth0_domain": request.auth0_domain,
            "client_ip": request.client_ip,
            "session_duration_hours": request.session_duration_hours,
            "credential": self.inner.settings.session_credential,
        });
        let (status, answer) = self
            .call("login", Method::POST, "/api/auth/login", Some(&body))
            .await?;
        match status {
            s if s.is_success() || s == StatusCode::UNAUTHORIZED => Ok(sync_verdict(&answer)),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                Err(RunnerError::NotSupported("synchronous login"))
            }
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn check_access(&self, query: &AccessQuery) -> Result<AccessDecision, RunnerError> {
        let body = json!({
            "session_token": query.session_token.expose(),
            "playbook_path": query.playbook_path.as_str(),
            "permission_type": query.permission.as_str(),
            "action": query.permission.as_str(),
            "credential": self.inner.settings.session_credential,
        });
        let (status, answer) = self
            .call(
                "check_access",
                Method::POST,
                "/api/auth/check-playbook-access",
                Some(&body),
            )
            .await?;
        match status {
            s if s.is_success() || s == StatusCode::FORBIDDEN || s == StatusCode::UNAUTHORIZED => {
                let success = answer.get("status").and_then(Value::as_str) == Some("success");
                let data = answer.get("data").cloned().unwrap_or(Value::Null);
                Ok(AccessDecision::from_data(success, &data))
            }
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                Err(RunnerError::NotSupported("synchronous access check"))
            }
            s => Err(Self::refused(s, &answer)),
        }
    }

    async fn health(&self) -> Result<(), RunnerError> {
        let (status, answer) = self
            .call("health", Method::GET, "/api/health", None)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Self::refused(status, &answer))
        }
    }
}

/// `{"status":"success"|"error","data":{…}}` from the synchronous login route.
fn sync_verdict(answer: &Value) -> LoginVerdict {
    let success = answer.get("status").and_then(Value::as_str) == Some("success");
    let data = answer.get("data").cloned().unwrap_or(Value::Null);
    LoginVerdict::from_data(success, &data)
}

/// The workload with the current trace context added, so the worker's callback continues
/// this trace. A workload that already names a `traceparent` keeps its own.
fn with_trace(mut workload: Value) -> Value {
    if let (Value::Object(map), Some(parent)) = (&mut workload, current_traceparent()) {
        map.entry(TRACEPARENT).or_insert(Value::String(parent));
    }
    workload
}
