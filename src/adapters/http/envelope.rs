//! Adapters (http): the outermost middleware. Gives every request a correlation id, echoes
//! it, refuses a head over the size limit, and turns every error that did not come from our
//! handlers (routing, method, parsing, limits, panics) into the JSON error model with a 4xx,
//! or a 5xx that names no internals.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::Either;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tracing::Instrument;

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::head_limit::{TOO_LARGE_MESSAGE, too_large};
use super::request_id::{CorrelationId, HEADER};
use super::route_label::{allowed_methods, method_label, route_template};
use super::stall::caused_by_stall;
use crate::adapters::trace_context;
use crate::app::metrics::Metrics;

/// The outermost middleware; counts every answer in `metrics`.
#[derive(Debug, Clone)]
pub struct Envelope {
    metrics: Arc<Metrics>,
}

impl Envelope {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<E: Endpoint> Middleware<E> for Envelope {
    type Output = EnvelopeEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        EnvelopeEndpoint {
            inner: ep,
            metrics: self.metrics.clone(),
        }
    }
}

pub struct EnvelopeEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
}

impl<E: Endpoint> Endpoint for EnvelopeEndpoint<E> {
    type Output = Response;

    // Not an `async fn`: the future holds the scope and the inner future, not the request
    // as well (and, built from combinators, not the inner future twice).
    fn call(&self, mut req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        let scope = RequestScope::begin(req.method(), req.uri().path(), req.headers());
        req.extensions_mut().insert(scope.id.clone());
        if too_large(req.method(), req.uri(), req.headers()) {
            let status = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
            let response = error_response(status, TOO_LARGE_MESSAGE, &scope.id);
            return Either::Left(std::future::ready(
                Ok(scope.finish(response, &self.metrics)),
            ));
        }
        let handling = self.inner.call(req).instrument(scope.span.clone());
        Either::Right(handling.map(move |outcome| {
            let response = enveloped(outcome, &scope.id);
            Ok(scope.finish(response, &self.metrics))
        }))
    }
}

/// The handler's answer, or its error in the JSON error model.
fn enveloped(outcome: poem::Result<impl IntoResponse>, id: &CorrelationId) -> Response {
    match outcome {
        Ok(output) => {
            let response = output.into_response();
            if needs_envelope(&response) {
                let status = response.status();
                let mut wrapped = error_response(status, &default_message(status), id);
                carry_headers(&response, &mut wrapped);
                wrapped
            } else {
                response
            }
        }
        Err(err) => {
            // Whatever the handler made of a body cut short, the cause was its client.
            let status = if caused_by_stall(&err) {
                StatusCode::REQUEST_TIMEOUT
            } else {
                err.status()
            };
            let message = if status.is_server_error() {
                tracing::error!(request_id = %id.as_str(), error = %err, "request failed");
                default_message(status)
            } else {
                err.to_string()
            };
            // A well-formed body that breaks a rule of its schema (length, pattern,
            // range) is the caller's input error, as when our own validation refuses it.
            let code = if status == StatusCode::BAD_REQUEST && breaks_a_schema_rule(&message) {
                ErrorCode::BadUserInput
            } else {
                ErrorCode::for_status(status)
            };
            coded_error_response(status, code, &message, id)
        }
    }
}

/// The routes whose answers carry sessions or identities.
const AUTH_ROUTES: &str = "/api/auth/";

/// What every request gets around its handling, whichever way it is routed: a correlation
/// id (echoed on the answer), a span, a count in the metrics and a log line.
pub(crate) struct RequestScope {
    pub(crate) id: CorrelationId,
    pub(crate) span: tracing::Span,
    route: &'static str,
    method: &'static str,
    started: std::time::Instant,
}

impl RequestScope {
    pub(crate) fn begin(
        method: &poem::http::Method,
        path: &str,
        headers: &poem::http::HeaderMap,
    ) -> Self {
        let id = CorrelationId::from_header(headers.get(&HEADER));
        // The path only: query strings may carry tokens (EventSource cannot send headers).
        let route = route_template(path);
        let method = method_label(method);
        let span = tracing::info_span!(
            "request",
            otel.name = %format_args!("{method} {route}"),
            otel.kind = "server",
            request_id = %id.as_str(),
            method,
            path = %path,
            http.route = route,
            http.response.status_code = tracing::field::Empty,
        );
        trace_context::continue_from(&span, headers);
        Self {
            id,
            span,
            route,
            method,
            started: std::time::Instant::now(),
        }
    }

    /// Stamps the answer with the correlation id (and `Allow` on a 405), counts and logs it.
    /// An answer of the auth API (sessions, identities) is marked for no cache to keep.
    pub(crate) fn finish(self, mut response: Response, metrics: &Metrics) -> Response {
        response
            .headers_mut()
            .insert(HEADER, self.id.header_value().clone());
        if self.route.starts_with(AUTH_ROUTES) {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if response.status() == StatusCode::METHOD_NOT_ALLOWED
            && !response.headers().contains_key(header::ALLOW)
            && let Some(allow) = allowed_methods(self.route)
        {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        let took = self.started.elapsed();
        let status = response.status().as_u16();
        self.span.record("http.response.status_code", status);
        metrics.http_request(self.route, Cow::Borrowed(self.method), status, took);
        // Logged inside the span (not only with it as parent) so JSON lines list it.
        self.span.in_scope(|| {
            tracing::info!(
                status,
                elapsed_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
                "response"
            );
        });
        response
    }
}

/// The wording of a value that parsed but broke its rule: poem-openapi's validators and
/// our `Checked` fields say "verification failed".
fn breaks_a_schema_rule(message: &str) -> bool {
    message.contains("verification failed")
}

/// An error status whose body is not already JSON (poem's own plain-text answers).
fn needs_envelope(response: &Response) -> bool {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/json") || ct.starts_with("text/event-stream")
        });
    (response.status().is_client_error() || response.status().is_server_error()) && !is_json
}

fn carry_headers(from: &Response, to: &mut Response) {
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = from.headers().get(&name) {
            to.headers_mut().insert(name, v.clone());
        }
    }
}

pub(crate) fn default_message(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
}

/// Builds the JSON error response with the code its status implies.
pub(crate) fn error_response(status: StatusCode, message: &str, id: &CorrelationId) -> Response {
    coded_error_response(status, ErrorCode::for_status(status), message, id)
}

/// Builds the JSON error response; the single place its body is written.
pub(crate) fn coded_error_response(
    status: StatusCode,
    code: ErrorCode,
    message: &str,
    id: &CorrelationId,
) -> Response {
    let body = ErrorBody::new(code, message, id.as_str());
    let json = serde_json::json!({
        "error": body.error,
        "code": body.code.as_str(),
        "request_id": body.request_id,
    });
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(json.to_string())
}

/// The response of an [`ApiError`] on a route outside poem-openapi: its JSON error body,
/// and its retry hint as `Retry-After` when it has one.
pub(crate) fn api_error_response(api: &ApiError, id: &CorrelationId) -> Response {
    let mut response = coded_error_response(api.status, api.body.code, &api.body.error, id);
    if let Some(secs) = api.retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::types::ToJSON;

    #[test]
    fn the_handwritten_codes_match_the_spec_enum() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::PayloadTooLarge,
            ErrorCode::RequestTimeout,
            ErrorCode::HeadersTooLarge,
            ErrorCode::BackendTimeout,
        ] {
            assert_eq!(code.to_json(), Some(serde_json::json!(code.as_str())));
        }
    }
}
