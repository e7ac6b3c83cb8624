//! Adapters (http): the authenticated streaming reverse proxy `/noetl/{path}` →
//! `{NOETL_BASE_URL}/api/{path}`. Refuses paths that could escape `/api/`, strips hop-by-hop
//! headers, credentials and any client-sent identity headers, injects the verified identity
//! and `X-Forwarded-*`, enforces the body limit while streaming, and answers upstream
//! failures with the JSON error model (502 unreachable, 504 slow).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures_util::{StreamExt, TryStreamExt};
use poem::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::{Body, Request, Response, handler};

use super::envelope::{coded_error_response, error_response};
use super::error::ErrorCode;
use super::request_id::CorrelationId;
use super::session_auth::authenticate;
use crate::adapters::trace_context::{TRACEPARENT, current_traceparent};
use crate::app::Gateway;
use crate::domain::Session;
use crate::ports::{ForwardError, ForwardRequest, Forwarder};

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
];

const IDENTITY: [&str; 3] = [
    "x-noetl-user-id",
    "x-noetl-user-email",
    "x-noetl-user-roles",
];

/// Why a request for the proxy must be refused before routing (which would normalise `..`
/// away and answer 404), or `None` for every other request.
pub(crate) fn refuse_before_routing(req: &Request) -> Option<&'static str> {
    let lower = req.uri().path().to_ascii_lowercase();
    let for_proxy = lower.starts_with("/noetl/") || lower.starts_with("/noetl%2f");
    if !for_proxy {
        return None;
    }
    upstream_target(req).err()
}

/// The upstream path and query for a request under `/noetl/`, or why it is refused. Checks
/// the raw (still percent-encoded) path, then the decoded one.
fn upstream_target(req: &Request) -> Result<String, &'static str> {
    let raw = req
        .uri()
        .path()
        .strip_prefix("/noetl/")
        .ok_or("the path must start with /noetl/")?;
    let lower = raw.to_ascii_lowercase();
    if ["%2f", "%5c", "%00"].iter().any(|enc| lower.contains(enc)) || raw.contains('\\') {
        return Err("encoded '/', '\\' or NUL in the path");
    }
    let decoded = percent_decode(raw).ok_or("the path is not valid percent-encoded UTF-8")?;
    if decoded.starts_with('/') || decoded.contains('\0') || decoded.contains('\\') {
        return Err("the path may not start with '/' or contain NUL or '\\'");
    }
    if decoded.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err("'.' and '..' segments are not allowed");
    }
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    Ok(format!("/api/{raw}{query}"))
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Drops hop-by-hop headers, and any header the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    for name in HOP_BY_HOP.iter().map(|n| (*n).to_owned()).chain(named) {
        headers.remove(name.as_str());
    }
}

/// The request headers NoETL gets.
fn upstream_headers(req: &Request, session: &Session, id: &CorrelationId) -> HeaderMap {
    let mut headers = req.headers().clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(header::AUTHORIZATION);
    headers.remove("x-session-token");
    headers.remove(header::HOST);
    let spoofable: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-noetl-user-") || k.as_str().starts_with("x-user-"))
        .cloned()
        .collect();
    for name in spoofable {
        headers.remove(name);
    }
    let cookies: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && !pair.starts_with("session_token="))
        .map(str::to_owned)
        .collect();
    headers.remove(header::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&cookies.join("; "))
        && !cookies.is_empty()
    {
        headers.insert(header::COOKIE, v);
    }
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let forwarded_for = match (
        req.headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok()),
        peer,
    ) {
        (Some(prior), Some(ip)) => format!("{prior}, {ip}"),
        (None, Some(ip)) => ip.to_string(),
        (Some(prior), None) => prior.to_owned(),
        (None, None) => String::new(),
    };
    let host = req.headers().get(header::HOST).cloned();
    let roles = session.user.roles.as_slice().join(",");
    let set = [
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-proto", "http".to_owned()),
        ("x-request-id", id.as_str().to_owned()),
        (IDENTITY[0], session.user.user_id.get().to_string()),
        (IDENTITY[1], session.user.email.clone()),
        (IDENTITY[2], roles),
    ];
    for (name, value) in set {
        if let Ok(v) = HeaderValue::from_str(&value)
            && !value.is_empty()
        {
            headers.insert(name, v);
        }
    }
    if let Some(h) = host {
        headers.insert("x-forwarded-host", h);
    }
    // This request's span when traces are recorded (a child of the client's context), else
    // the client's own context, else a fresh one so NoETL's logs can still be correlated.
    let traceparent = current_traceparent()
        .or_else(|| (!headers.contains_key(TRACEPARENT)).then(new_traceparent));
    if let Some(v) = traceparent.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert(TRACEPARENT, v);
    }
    headers
}

/// A fresh W3C trace context for a request that arrived without one.
fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

#[handler]
pub async fn proxy(req: &Request, body: Body, gateway: Data<&Arc<Gateway>>) -> Response {
    let id = req
        .extensions()
        .get::<CorrelationId>()
        .cloned()
        .unwrap_or_else(|| CorrelationId::from_header(None));
    let target = match upstream_target(req) {
        Ok(t) => t,
        Err(why) => return error_response(StatusCode::BAD_REQUEST, why, &id),
    };
    let (_, session) = match authenticate(&gateway, req, false).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let upstream_path = target
        .trim_start_matches("/api/")
        .split('?')
        .next()
        .unwrap_or_default();
    if !gateway
        .proxy_policy
        .allows(upstream_path, &session.user.roles)
    {
        return error_response(
            StatusCode::FORBIDDEN,
            "this session's roles may not use this path",
            &id,
        );
    }
    let limit = gateway.proxy_max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body is larger than {limit} bytes"),
            &id,
        );
    }
    let over_limit = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicUsize::new(0));
    let flag = over_limit.clone();
    let counted = body.into_bytes_stream().and_then(move |chunk| {
        let total = seen.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len();
        let result = if total > limit {
            flag.store(true, Ordering::Relaxed);
            Err(std::io::Error::other("request body over the limit"))
        } else {
            Ok(chunk)
        };
        std::future::ready(result)
    });
    let has_body =
        declared.is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING);
    let forward = ForwardRequest {
        method: req.method().clone(),
        path_and_query: target,
        has_body,
        headers: upstream_headers(req, &session, &id),
        body: counted.boxed(),
    };
    match gateway.forwarder.forward(forward).await {
        Ok(upstream) => {
            let mut headers = upstream.headers;
            strip_hop_by_hop(&mut headers);
            let mut response = Response::builder()
                .status(upstream.status)
                .body(Body::from_bytes_stream(upstream.body));
            for (name, value) in &headers {
                response.headers_mut().append(name, value.clone());
            }
            response
        }
        Err(_) if over_limit.load(Ordering::Relaxed) => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body is larger than {limit} bytes"),
            &id,
        ),
        Err(ForwardError::Timeout) => coded_error_response(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::BackendTimeout,
            "NoETL did not answer in time",
            &id,
        ),
        Err(ForwardError::BadRequest(why)) => error_response(StatusCode::BAD_REQUEST, &why, &id),
        Err(ForwardError::Unreachable(cause)) => {
            tracing::warn!(request_id = %id.as_str(), error = %cause, "NoETL unreachable from the proxy");
            coded_error_response(
                StatusCode::BAD_GATEWAY,
                ErrorCode::BackendUnavailable,
                "NoETL is unreachable",
                &id,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Result<String, &'static str> {
        upstream_target(&Request::builder().uri(path.parse().unwrap()).finish())
    }

    #[test]
    fn paths_that_could_escape_api_are_refused() {
        assert_eq!(
            target("/noetl/executions?limit=5").unwrap(),
            "/api/executions?limit=5"
        );
        assert_eq!(target("/noetl/catalog/list").unwrap(), "/api/catalog/list");
        for bad in [
            "/noetl/../secret",
            "/noetl/a/%2e%2e/b",
            "/noetl/a%2fb",
            "/noetl/a%5cb",
            "/noetl/a%00b",
            "/noetl/%2Fetc",
            "/noetl/./x",
        ] {
            assert!(target(bad).is_err(), "{bad}");
        }
    }
}
