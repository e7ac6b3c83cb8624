//! Adapters (http): the header rules of the proxy. Toward NoETL: hop-by-hop headers,
//! credentials, `Host` and client-sent identity claims are withheld; the verified identity,
//! `X-Forwarded-*`, `X-Request-Id` and `traceparent` are set. Back to the client: hop-by-hop
//! headers are dropped.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use poem::http::{HeaderMap, HeaderName, HeaderValue, header};

use super::answer_memo::AnswerMemo;
use super::proxy::ProxyCall;
use super::request_id::HEADER as REQUEST_ID;
use super::session_auth::X_SESSION_TOKEN;
use crate::adapters::trace_context::{TRACEPARENT, current_traceparent};
use crate::domain::Session;

// Names the gateway sets toward NoETL, built once (`from_static` is const).
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_TRACEPARENT: HeaderName = HeaderName::from_static(TRACEPARENT);
const X_NOETL_USER_ID: HeaderName = HeaderName::from_static("x-noetl-user-id");
const X_NOETL_USER_EMAIL: HeaderName = HeaderName::from_static("x-noetl-user-email");
const X_NOETL_USER_ROLES: HeaderName = HeaderName::from_static("x-noetl-user-roles");

/// The headers that belong to one connection, never passed on. Kept as text: a set of
/// `HeaderName`s (which have drop glue) would be built and dropped at each use.
const HOP_BY_HOP: [&str; 9] = [
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

/// Whether a header is hop-by-hop: one of the fixed set, or named by `Connection`.
fn is_hop_by_hop(name: &HeaderName, named: &[HeaderName]) -> bool {
    HOP_BY_HOP.contains(&name.as_str()) || named.contains(name)
}

/// The header names a `Connection` header lists beyond the fixed set (usually none, so
/// usually no allocation).
fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim_ascii)
        .filter(|n| !HOP_BY_HOP.iter().any(|fixed| fixed.eq_ignore_ascii_case(n)))
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .collect()
}

/// The headers without hop-by-hop ones, removed in place (the map is not rebuilt). One pass
/// notes which of the fixed set are present (a bit each), so that finding them allocates
/// nothing; the names `Connection` lists are removed by name.
pub(super) fn without_hop_by_hop(mut headers: HeaderMap) -> HeaderMap {
    let named = connection_named(&headers);
    let mut present = 0u16;
    for name in headers.keys() {
        if let Some(at) = HOP_BY_HOP.iter().position(|&fixed| fixed == name.as_str()) {
            present |= 1 << at;
        }
    }
    for (at, name) in HOP_BY_HOP.into_iter().enumerate() {
        if present & (1 << at) != 0 {
            headers.remove(name);
        }
    }
    for name in &named {
        headers.remove(name);
    }
    headers
}

/// Client headers that never reach NoETL as sent, besides hop-by-hop ones and identity
/// claims: credentials, `Host`, and the ones the gateway sets itself.
const WITHHELD: [HeaderName; 8] = [
    header::AUTHORIZATION,
    X_SESSION_TOKEN,
    header::HOST,
    header::COOKIE,
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
    REQUEST_ID,
];

/// Client headers that never reach NoETL as sent: hop-by-hop ones, credentials, `Host`,
/// identity claims, and the ones the gateway sets itself.
fn withheld_from_upstream(name: &HeaderName, named: &[HeaderName]) -> bool {
    let n = name.as_str();
    is_hop_by_hop(name, named)
        || WITHHELD.contains(name)
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
        .map(str::trim_ascii)
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

/// The verified identity as header values, worked out once per cached session.
#[derive(Clone)]
struct Identity {
    user_id: HeaderValue,
    /// `None` when empty or when a header cannot carry it.
    email: Option<HeaderValue>,
    roles: Option<HeaderValue>,
}

impl Identity {
    fn of(session: &Session) -> Self {
        let text = |value: &str| {
            (!value.is_empty())
                .then(|| HeaderValue::from_str(value).ok())
                .flatten()
        };
        Self {
            user_id: HeaderValue::from(session.user.user_id.get()),
            email: text(&session.user.email),
            roles: text(&session.user.roles.as_slice().join(",")),
        }
    }
}

/// The identities of the sessions proxied for lately. Keyed by the session's allocation,
/// so every gateway in the process can share it (see `AnswerMemo`).
static IDENTITIES: AnswerMemo<Session, Identity> = AnswerMemo::new();

/// What the header rules need to know of the client's headers, read in one pass rather than
/// looked up one by one.
#[derive(Default)]
struct ClientHeaders<'a> {
    connection: bool,
    cookie: bool,
    traceparent: bool,
    /// The first of each.
    forwarded_for: Option<&'a HeaderValue>,
    host: Option<&'a HeaderValue>,
}

impl<'a> ClientHeaders<'a> {
    fn read(headers: &'a HeaderMap) -> Self {
        let mut seen = Self::default();
        for (name, value) in headers {
            if name == header::CONNECTION {
                seen.connection = true;
            } else if name == header::COOKIE {
                seen.cookie = true;
            } else if name == header::HOST {
                seen.host = seen.host.or(Some(value));
            } else if name == X_FORWARDED_FOR {
                seen.forwarded_for = seen.forwarded_for.or(Some(value));
            } else if name == X_TRACEPARENT {
                seen.traceparent = true;
            }
        }
        seen
    }
}

/// The request headers NoETL gets.
pub(super) fn upstream_headers(call: &ProxyCall<'_>, session: &Arc<Session>) -> HeaderMap {
    let source = call.headers;
    let seen = ClientHeaders::read(source);
    let named = if seen.connection {
        connection_named(source)
    } else {
        Vec::new()
    };
    let mut headers = HeaderMap::with_capacity(source.len() + 8);
    for (name, value) in source {
        if !withheld_from_upstream(name, &named) {
            headers.append(name.clone(), value.clone());
        }
    }
    if seen.cookie
        && let Some(cookies) = cookies_for_upstream(source)
    {
        headers.insert(header::COOKIE, cookies);
    }
    let forwarded_for = forwarded_for(
        seen.forwarded_for.and_then(|v| v.to_str().ok()),
        call.remote,
    );
    if let Ok(v) = HeaderValue::from_str(&forwarded_for)
        && !forwarded_for.is_empty()
    {
        headers.insert(X_FORWARDED_FOR, v);
    }
    let identity = IDENTITIES
        .get_or_write(session, |s| Some(Identity::of(s)))
        .unwrap_or_else(|| Identity::of(session));
    headers.insert(X_NOETL_USER_ID, identity.user_id);
    if let Some(email) = identity.email {
        headers.insert(X_NOETL_USER_EMAIL, email);
    }
    if let Some(roles) = identity.roles {
        headers.insert(X_NOETL_USER_ROLES, roles);
    }
    headers.insert(REQUEST_ID, call.id.header_value().clone());
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    if let Some(host) = seen.host {
        headers.insert(X_FORWARDED_HOST, host.clone());
    }
    // This request's span when traces are recorded (a child of the client's context), else
    // the client's own context, else a fresh one so NoETL's logs can still be correlated.
    match current_traceparent().and_then(|t| HeaderValue::from_str(&t).ok()) {
        Some(v) => {
            headers.insert(X_TRACEPARENT, v);
        }
        None if !seen.traceparent => {
            headers.insert(X_TRACEPARENT, new_traceparent());
        }
        None => {}
    }
    headers
}

/// `X-Forwarded-For` toward NoETL: the chain the client's own proxies sent, then the
/// client's address.
fn forwarded_for(prior: Option<&str>, peer: Option<IpAddr>) -> String {
    let mut value = String::with_capacity(prior.map_or(0, |p| p.len() + 2) + 15);
    if let Some(prior) = prior {
        value.push_str(prior);
    }
    if let Some(ip) = peer {
        if prior.is_some() {
            value.push_str(", ");
        }
        match ip {
            // By hand: `Display` for an IPv4 address honours width and padding, at a cost
            // that shows on every proxied request.
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        value.push('.');
                    }
                    push_decimal(&mut value, octet);
                }
            }
            IpAddr::V6(v6) => {
                let _ = write!(value, "{v6}");
            }
        }
    }
    value
}

fn push_decimal(out: &mut String, n: u8) {
    if n >= 100 {
        out.push(char::from(b'0' + n / 100));
    }
    if n >= 10 {
        out.push(char::from(b'0' + n / 10 % 10));
    }
    out.push(char::from(b'0' + n % 10));
}

/// A fresh W3C trace context (`00-{trace id}-{span id}-01`) for a request that arrived
/// without one. Both ids come from version-4 UUIDs, whose fixed version and variant bits
/// keep them from being all zeros, as the format forbids.
fn new_traceparent() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let trace = uuid::Uuid::new_v4();
    let span = uuid::Uuid::new_v4();
    let mut text = [0u8; 55];
    text[..3].copy_from_slice(b"00-");
    let ids = trace.as_bytes().iter().chain(&span.as_bytes()[8..]);
    for (i, byte) in ids.enumerate() {
        // The span id starts after the trace id's 32 digits and a dash.
        let at = 3 + 2 * i + usize::from(i >= 16);
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 0x0f)];
    }
    text[35] = b'-';
    text[52..].copy_from_slice(b"-01");
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
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
        let mut names: Vec<&str> = kept.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-type", "set-cookie"]);
        assert_eq!(kept.get_all("set-cookie").iter().count(), 2);

        let mut clean = HeaderMap::new();
        clean.insert("content-type", HeaderValue::from_static("text/plain"));
        assert_eq!(without_hop_by_hop(clean.clone()), clean);
    }

    fn session(user_id: i64, email: &str, roles: &[&str]) -> Arc<Session> {
        use crate::domain::{Roles, User, UserId};
        Arc::new(Session {
            user: User {
                user_id: UserId::new(user_id),
                email: email.to_owned(),
                display_name: String::new(),
                roles: Roles::new(roles.iter().copied()),
            },
            expires_at: None,
            is_active: true,
        })
    }

    /// The headers NoETL gets for `sent`, from a client at 10.0.0.7.
    fn forwarded(sent: &HeaderMap, session: &Arc<Session>) -> HeaderMap {
        let call = ProxyCall {
            method: &poem::http::Method::GET,
            uri: &"/noetl/health".parse().unwrap(),
            headers: sent,
            remote: Some(IpAddr::from([10, 0, 0, 7])),
            id: &super::super::request_id::CorrelationId::generated(),
        };
        upstream_headers(&call, session)
    }

    fn identity_headers(email: &str, roles: &[&str]) -> HeaderMap {
        let mut sent = HeaderMap::new();
        sent.insert("x-noetl-user-id", HeaderValue::from_static("1"));
        sent.insert(
            "x-user-email",
            HeaderValue::from_static("forged@example.com"),
        );
        sent.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        sent.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        sent.insert("accept", HeaderValue::from_static("*/*"));
        forwarded(&sent, &session(42, email, roles))
    }

    #[test]
    fn the_verified_identity_replaces_what_the_client_sent() {
        let headers = identity_headers("ada@example.com", &["admin", "ops"]);
        assert_eq!(headers["x-noetl-user-id"], "42");
        assert_eq!(headers["x-noetl-user-email"], "ada@example.com");
        assert_eq!(headers["x-noetl-user-roles"], "admin,ops");
        assert_eq!(headers["x-forwarded-for"], "10.0.0.7");
        assert_eq!(headers["accept"], "*/*");
        assert_eq!(headers.get_all("x-noetl-user-id").iter().count(), 1);
        for gone in ["x-user-email", "authorization", "connection"] {
            assert!(!headers.contains_key(gone), "{gone}");
        }
    }

    #[test]
    fn an_identity_value_a_header_cannot_carry_or_an_empty_one_is_left_out() {
        let headers = identity_headers("ada\r\nx-noetl-user-roles: admin", &[]);
        assert!(!headers.contains_key("x-noetl-user-email"));
        assert!(!headers.contains_key("x-noetl-user-roles"));
        assert_eq!(headers["x-noetl-user-id"], "42");
        // UTF-8 beyond ASCII passes as the header's bytes.
        let headers = identity_headers("j\u{f6}rg@example.com", &["ops"]);
        assert_eq!(
            headers["x-noetl-user-email"].as_bytes(),
            "j\u{f6}rg@example.com".as_bytes()
        );
    }

    #[test]
    fn what_the_client_sent_is_read_once_and_each_rule_applied() {
        let session = session(7, "", &[]);
        let mut sent = HeaderMap::new();
        sent.insert(header::HOST, HeaderValue::from_static("gw.example"));
        sent.append("x-forwarded-for", HeaderValue::from_static("1.1.1.1"));
        sent.append("x-forwarded-for", HeaderValue::from_static("2.2.2.2"));
        sent.insert(header::CONNECTION, HeaderValue::from_static("x-hop"));
        sent.insert("x-hop", HeaderValue::from_static("1"));
        sent.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; session_token=secret; b=2"),
        );
        let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        sent.insert("traceparent", HeaderValue::from_static(parent));
        for _ in 0..2 {
            let headers = forwarded(&sent, &session);
            assert_eq!(headers["x-forwarded-host"], "gw.example");
            assert_eq!(headers["x-forwarded-for"], "1.1.1.1, 10.0.0.7");
            assert_eq!(headers["cookie"], "a=1; b=2");
            assert_eq!(headers["traceparent"], parent);
            assert_eq!(headers["x-noetl-user-id"], "7");
            for gone in ["x-hop", "connection", "host", "x-noetl-user-email"] {
                assert!(!headers.contains_key(gone), "{gone}");
            }
        }
    }

    #[test]
    fn a_fresh_traceparent_has_the_w3c_form() {
        let value = new_traceparent();
        let text = value.to_str().unwrap();
        let parts: Vec<&str> = text.split('-').collect();
        assert_eq!(parts.len(), 4, "{text}");
        assert_eq!((parts[0], parts[3]), ("00", "01"));
        assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
        for id in &parts[1..3] {
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(id.bytes().any(|b| b != b'0'));
        }
        assert_ne!(new_traceparent(), value);
    }

    #[test]
    fn forwarded_for_appends_the_client_to_the_chain() {
        let v4: IpAddr = "10.0.255.7".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(forwarded_for(None, Some(v4)), "10.0.255.7");
        assert_eq!(
            forwarded_for(Some("1.2.3.4"), Some(v6)),
            "1.2.3.4, 2001:db8::1"
        );
        assert_eq!(forwarded_for(Some("1.2.3.4"), None), "1.2.3.4");
        assert_eq!(forwarded_for(None, None), "");
        for octet in [0u8, 9, 10, 99, 100, 255] {
            let ip = IpAddr::from([octet, 1, 2, 3]);
            assert_eq!(forwarded_for(None, Some(ip)), ip.to_string());
        }
    }
}
