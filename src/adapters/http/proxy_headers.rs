//! Adapters (http): the header rules of the proxy. Toward NoETL: hop-by-hop headers,
//! credentials, `Host` and client-sent identity claims are withheld; the verified identity,
//! `X-Forwarded-*`, `X-Request-Id` and `traceparent` are set. Back to the client: hop-by-hop
//! headers are dropped.

use poem::http::{HeaderMap, HeaderName, HeaderValue, header};

use super::proxy::ProxyCall;
use crate::adapters::trace_context::{TRACEPARENT, current_traceparent};
use crate::domain::Session;

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

// Names the gateway sets toward NoETL, built once (`from_static` is const).
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_TRACEPARENT: HeaderName = HeaderName::from_static(TRACEPARENT);
const IDENTITY: [HeaderName; 3] = [
    HeaderName::from_static("x-noetl-user-id"),
    HeaderName::from_static("x-noetl-user-email"),
    HeaderName::from_static("x-noetl-user-roles"),
];

/// Whether a header is hop-by-hop: one of the fixed set, or named by `Connection`.
fn is_hop_by_hop(name: &HeaderName, named: &[String]) -> bool {
    HOP_BY_HOP.contains(&name.as_str()) || named.iter().any(|n| n == name.as_str())
}

/// The header names a `Connection` header lists (usually none).
fn connection_named(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect()
}

/// The headers without hop-by-hop ones; the map is moved as it is when it has none.
pub(super) fn without_hop_by_hop(headers: HeaderMap) -> HeaderMap {
    let named = connection_named(&headers);
    if !headers.keys().any(|k| is_hop_by_hop(k, &named)) {
        return headers;
    }
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in &headers {
        if !is_hop_by_hop(name, &named) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

/// Client headers that never reach NoETL as sent: hop-by-hop ones, credentials, `Host`,
/// identity claims, and the ones the gateway sets itself.
fn withheld_from_upstream(name: &HeaderName, named: &[String]) -> bool {
    let n = name.as_str();
    is_hop_by_hop(name, named)
        || matches!(
            n,
            "authorization"
                | "x-session-token"
                | "host"
                | "cookie"
                | "x-forwarded-for"
                | "x-forwarded-proto"
                | "x-forwarded-host"
                | "x-request-id"
        )
        || n.starts_with("x-noetl-user-")
        || n.starts_with("x-user-")
}

/// The client's cookies minus the session cookie, as one `Cookie` header value.
fn cookies_for_upstream(headers: &HeaderMap) -> Option<HeaderValue> {
    let mut kept = String::new();
    let pairs = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && !pair.starts_with("session_token="));
    for pair in pairs {
        if !kept.is_empty() {
            kept.push_str("; ");
        }
        kept.push_str(pair);
    }
    (!kept.is_empty())
        .then(|| HeaderValue::from_str(&kept).ok())
        .flatten()
}

/// The request headers NoETL gets.
pub(super) fn upstream_headers(call: &ProxyCall<'_>, session: &Session) -> HeaderMap {
    let source = call.headers;
    let named = connection_named(source);
    let mut headers = HeaderMap::with_capacity(source.len() + 8);
    for (name, value) in source {
        if !withheld_from_upstream(name, &named) {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Some(cookies) = cookies_for_upstream(source) {
        headers.insert(header::COOKIE, cookies);
    }
    let peer = call.remote;
    let forwarded_for = match (
        source.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()),
        peer,
    ) {
        (Some(prior), Some(ip)) => format!("{prior}, {ip}"),
        (None, Some(ip)) => ip.to_string(),
        (Some(prior), None) => prior.to_owned(),
        (None, None) => String::new(),
    };
    let roles = session.user.roles.as_slice().join(",");
    let user_id = session.user.user_id.get().to_string();
    let set = [
        (X_FORWARDED_FOR, forwarded_for.as_str()),
        (X_REQUEST_ID, call.id.as_str()),
        (IDENTITY[0].clone(), user_id.as_str()),
        (IDENTITY[1].clone(), session.user.email.as_str()),
        (IDENTITY[2].clone(), roles.as_str()),
    ];
    for (name, value) in set {
        if let Ok(v) = HeaderValue::from_str(value)
            && !value.is_empty()
        {
            headers.insert(name, v);
        }
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    if let Some(h) = source.get(header::HOST) {
        headers.insert(X_FORWARDED_HOST, h.clone());
    }
    // This request's span when traces are recorded (a child of the client's context), else
    // the client's own context, else a fresh one so NoETL's logs can still be correlated.
    let traceparent = current_traceparent()
        .or_else(|| (!headers.contains_key(&X_TRACEPARENT)).then(new_traceparent));
    if let Some(v) = traceparent.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert(X_TRACEPARENT, v);
    }
    headers
}

/// A fresh W3C trace context for a request that arrived without one.
fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        headers.insert("connection", HeaderValue::from_static("close, X-Private"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.append("set-cookie", HeaderValue::from_static("a=1"));
        headers.append("set-cookie", HeaderValue::from_static("b=2"));
        let kept = without_hop_by_hop(headers);
        let names: Vec<&str> = kept.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["content-type", "set-cookie"]);
        assert_eq!(kept.get_all("set-cookie").iter().count(), 2);

        let mut clean = HeaderMap::new();
        clean.insert("content-type", HeaderValue::from_static("text/plain"));
        assert_eq!(without_hop_by_hop(clean.clone()), clean);
    }
}
