//! Adapters (http): the authenticated streaming reverse proxy `/noetl/{path}` →
//! `{NOETL_BASE_URL}/api/{path}`. Refuses paths that could escape `/api/`, strips hop-by-hop
//! headers, credentials and any client-sent identity headers, injects the verified identity
//! and `X-Forwarded-*`, enforces the body limit while streaming, and answers upstream
//! failures with the JSON error model (502 unreachable, 504 slow, 503 when the bound on
//! connections to NoETL is reached).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use futures_util::{StreamExt, TryStreamExt};
use poem::http::{HeaderMap, Method, StatusCode, Uri, header};
use poem::web::Data;
use poem::{Body, Request, Response, handler};

use super::body_limit::declared_length;
use super::envelope::{api_error_response, coded_error_response, error_response};
use super::error::{ApiError, ErrorCode};
use super::proxy_headers::{upstream_headers, without_hop_by_hop};
use super::request_id::CorrelationId;
use super::session_auth::authenticate_parts;
use super::stall::{STALL_MESSAGE, is_stall};
use crate::app::Gateway;
use crate::ports::{BodyStream, ForwardError, ForwardRequest, Forwarder};

/// How the client's side of a forwarded body went: fine, over the size limit, or stalled
/// (the client stopped sending it, or sent it below the minimum rate).
const NO_FAULT: u8 = 0;
const OVER_LIMIT: u8 = 1;
const STALLED: u8 = 2;

/// The checked upstream path and query of a request under `/noetl/`, worked out once before
/// routing and read back by the handler.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamTarget(String);

/// Checks a request for the proxy before routing (which would normalise `..` away and answer
/// 404) and keeps its upstream target; every other request passes untouched.
pub(crate) fn check_before_routing(req: &mut Request) -> Result<(), &'static str> {
    let path = req.uri().path().as_bytes();
    let for_proxy = path.len() >= 7
        && (path[..7].eq_ignore_ascii_case(b"/noetl/")
            || path.len() >= 9 && path[..9].eq_ignore_ascii_case(b"/noetl%2f"));
    if for_proxy {
        let target = upstream_target(req.uri())?;
        req.extensions_mut().insert(UpstreamTarget(target));
    }
    Ok(())
}

/// The upstream path and query for a request under `/noetl/`, or why it is refused. Checks
/// the raw (still percent-encoded) path, then the decoded one.
pub(crate) fn upstream_target(uri: &Uri) -> Result<String, &'static str> {
    let raw = uri
        .path()
        .strip_prefix("/noetl/")
        .ok_or("the path must start with /noetl/")?;
    let encoded_separator = raw.as_bytes().windows(3).any(|w| {
        w[0] == b'%' && matches!(&[w[1], w[2].to_ascii_lowercase()], b"2f" | b"5c" | b"00")
    });
    if encoded_separator || raw.contains('\\') {
        return Err("encoded '/', '\\' or NUL in the path");
    }
    // Without a '%' the decoded path is the raw one.
    let decoded = if raw.contains('%') {
        Cow::Owned(percent_decode(raw).ok_or("the path is not valid percent-encoded UTF-8")?)
    } else {
        Cow::Borrowed(raw)
    };
    if decoded.starts_with('/') || decoded.contains('\0') || decoded.contains('\\') {
        return Err("the path may not start with '/' or contain NUL or '\\'");
    }
    if decoded.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err("'.' and '..' segments are not allowed");
    }
    let query = uri.query();
    let mut target = String::with_capacity(6 + raw.len() + query.map_or(0, |q| q.len() + 1));
    target.push_str("/api/");
    target.push_str(raw);
    if let Some(q) = query {
        target.push('?');
        target.push_str(q);
    }
    Ok(target)
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

/// What the proxy needs of a client request besides its body.
pub(crate) struct ProxyCall<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    /// The client's address, for `X-Forwarded-For`.
    pub(crate) remote: Option<IpAddr>,
    pub(crate) id: &'a CorrelationId,
}

/// The proxy as a poem route: the way requests take when poem routes them (browsers' ones,
/// so CORS applies; see `proxy_shortcut` for the others).
#[handler]
pub async fn proxy(req: &Request, body: Body, gateway: Data<&Arc<Gateway>>) -> Response {
    let id = req
        .extensions()
        .get::<CorrelationId>()
        .cloned()
        .unwrap_or_else(CorrelationId::generated);
    let target = match req.extensions().get::<UpstreamTarget>() {
        Some(UpstreamTarget(t)) => t.clone(),
        None => match upstream_target(req.uri()) {
            Ok(t) => t,
            Err(why) => return error_response(StatusCode::BAD_REQUEST, why, &id),
        },
    };
    let call = ProxyCall {
        method: req.method(),
        uri: req.uri(),
        headers: req.headers(),
        remote: req.remote_addr().as_socket_addr().map(|a| a.ip()),
        id: &id,
    };
    forward(&gateway, &call, target, body.into_bytes_stream().boxed()).await
}

/// Authenticates the caller, applies the path policy and the body limit, and streams the
/// request to `target` (an upstream path and query) and NoETL's answer back.
pub(crate) async fn forward(
    gateway: &Arc<Gateway>,
    call: &ProxyCall<'_>,
    target: String,
    body: BodyStream,
) -> Response {
    let id = call.id;
    let (_, session) = match authenticate_parts(gateway, call.headers, call.uri, id, false).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    // The path as the policy names it: without `/api/` (which `upstream_target` put in
    // front) and without the query.
    let after_api = target.strip_prefix("/api/").unwrap_or(&target);
    let upstream_path = after_api
        .split_once('?')
        .map_or(after_api, |(path, _)| path);
    if !gateway
        .proxy_policy
        .allows(upstream_path, &session.user.roles)
    {
        return error_response(
            StatusCode::FORBIDDEN,
            "this session's roles may not use this path",
            id,
        );
    }
    let limit = gateway.proxy_max_body_bytes;
    let declared = declared_length(call.headers);
    if declared.is_some_and(|n| n > limit as u64) {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body is larger than {limit} bytes"),
            id,
        );
    }
    let client_fault = Arc::new(AtomicU8::new(NO_FAULT));
    let fault = client_fault.clone();
    let mut seen = 0usize;
    let counted = body
        .map_err({
            let fault = fault.clone();
            move |err| {
                if is_stall(&err) {
                    fault.store(STALLED, Ordering::Relaxed);
                }
                err
            }
        })
        .and_then(move |chunk| {
            seen = seen.saturating_add(chunk.len());
            let result = if seen > limit {
                fault.store(OVER_LIMIT, Ordering::Relaxed);
                Err(std::io::Error::other("request body over the limit"))
            } else {
                Ok(chunk)
            };
            std::future::ready(result)
        });
    let has_body =
        declared.is_some_and(|n| n > 0) || call.headers.contains_key(header::TRANSFER_ENCODING);
    let forward = ForwardRequest {
        method: call.method.clone(),
        path_and_query: target,
        has_body,
        headers: upstream_headers(call, &session),
        body: counted.boxed(),
    };
    match gateway.forwarder.forward(forward).await {
        Ok(upstream) => {
            let mut response = Response::builder()
                .status(upstream.status)
                .body(Body::from_bytes_stream(upstream.body));
            *response.headers_mut() = without_hop_by_hop(upstream.headers);
            response
        }
        Err(_) if client_fault.load(Ordering::Relaxed) == OVER_LIMIT => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body is larger than {limit} bytes"),
            id,
        ),
        Err(_) if client_fault.load(Ordering::Relaxed) == STALLED => {
            error_response(StatusCode::REQUEST_TIMEOUT, STALL_MESSAGE, id)
        }
        Err(ForwardError::Timeout) => coded_error_response(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::BackendTimeout,
            "NoETL did not answer in time",
            id,
        ),
        Err(ForwardError::BadRequest(why)) => error_response(StatusCode::BAD_REQUEST, &why, id),
        Err(ForwardError::Busy) => {
            // Counted in the metrics; one line per refusal would flood the log in a burst.
            gateway.metrics.proxy_refused();
            tracing::debug!(request_id = %id.as_str(), "proxied request refused: connection bound reached");
            let busy = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "the gateway holds as many connections to NoETL as it may; retry shortly",
                id,
            );
            api_error_response(&busy.retry_after(1), id)
        }
        Err(ForwardError::Unreachable(cause)) => {
            tracing::warn!(request_id = %id.as_str(), error = %cause, "NoETL unreachable from the proxy");
            coded_error_response(
                StatusCode::BAD_GATEWAY,
                ErrorCode::BackendUnavailable,
                "NoETL is unreachable",
                id,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Result<String, &'static str> {
        upstream_target(&path.parse().unwrap())
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
