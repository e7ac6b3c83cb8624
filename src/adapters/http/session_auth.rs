//! Adapters (http): where a session token is read from. For REST routes a poem-openapi
//! security scheme (so the spec documents it): `Authorization: Bearer`, then
//! `X-Session-Token`, then the `session_token` cookie. For plain poem routes (GraphQL, SSE,
//! proxy) the same order, plus the `session_token` query parameter where a browser's
//! EventSource cannot set headers.

use std::sync::Arc;

use poem::http::{HeaderMap, HeaderName, StatusCode, Uri, header};
use poem::{Request, Response};
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};

use super::envelope::{api_error_response, error_response};
use super::error::ApiError;
use super::request_id::CorrelationId;
use crate::app::Gateway;
use crate::domain::{Session, SessionToken};

/// `Authorization: Bearer <session token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "bearerSession")]
pub struct BearerSession(Bearer);

/// `X-Session-Token: <session token>`.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-Session-Token",
    key_in = "header",
    rename = "headerSession"
)]
pub struct HeaderSession(ApiKey);

/// Cookie `session_token=<session token>`.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "session_token",
    key_in = "cookie",
    rename = "cookieSession"
)]
pub struct CookieSession(ApiKey);

/// A session token from any of its three places, tried in order.
#[derive(SecurityScheme)]
pub enum SessionAuth {
    Bearer(BearerSession),
    Header(HeaderSession),
    Cookie(CookieSession),
}

impl SessionAuth {
    pub fn raw_token(&self) -> &str {
        match self {
            Self::Bearer(b) => &b.0.token,
            Self::Header(h) => &h.0.key,
            Self::Cookie(c) => &c.0.key,
        }
    }
}

/// The raw session token of a plain poem request, in contract order.
pub fn token_from_request(req: &Request, allow_query: bool) -> Option<String> {
    token_from_parts(req.headers(), req.uri(), allow_query).map(str::to_owned)
}

/// The header a session token may come in when not as a bearer token.
pub(super) const X_SESSION_TOKEN: HeaderName = HeaderName::from_static("x-session-token");

/// The raw session token from a request's headers (and query, where allowed), in contract
/// order, as it appears there.
pub(crate) fn token_from_parts<'a>(
    headers: &'a HeaderMap,
    uri: &'a Uri,
    allow_query: bool,
) -> Option<&'a str> {
    let header = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let bearer = header(&header::AUTHORIZATION).and_then(|v| {
        let (scheme, rest) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| rest.trim())
            .filter(|t| !t.is_empty())
    });
    let cookie = || {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == "session_token")
            .map(|(_, value)| value.trim())
            .filter(|v| !v.is_empty())
    };
    let query = || {
        allow_query
            .then(|| uri.query())
            .flatten()
            .and_then(|q| {
                q.split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| *name == "session_token")
                    .map(|(_, value)| value)
            })
            .filter(|v| !v.is_empty())
    };
    bearer
        .or_else(|| header(&X_SESSION_TOKEN))
        .or_else(cookie)
        .or_else(query)
}

/// Verifies the session of a plain poem request, or gives the JSON refusal to send: 401 for
/// a missing or invalid session, 503/502/504 when no backend can answer.
pub(crate) async fn authenticate(
    gateway: &Arc<Gateway>,
    req: &Request,
    allow_query: bool,
) -> Result<(SessionToken, Arc<Session>), Response> {
    let id = req
        .extensions()
        .get::<CorrelationId>()
        .cloned()
        .unwrap_or_else(CorrelationId::generated);
    authenticate_parts(gateway, req.headers(), req.uri(), &id, allow_query).await
}

/// `authenticate` for a request known by its headers and URI.
pub(crate) async fn authenticate_parts(
    gateway: &Arc<Gateway>,
    headers: &HeaderMap,
    uri: &Uri,
    id: &CorrelationId,
    allow_query: bool,
) -> Result<(SessionToken, Arc<Session>), Response> {
    let refuse = |message: &str| error_response(StatusCode::UNAUTHORIZED, message, id);
    let Some(raw) = token_from_parts(headers, uri, allow_query) else {
        return Err(refuse("A session is required"));
    };
    let Ok(token) = SessionToken::parse(raw) else {
        return Err(refuse("Invalid or expired session"));
    };
    match gateway.auth.resolve(&token).await {
        Ok(Some(session)) => Ok((token, session)),
        Ok(None) => Err(refuse("Invalid or expired session")),
        Err(err) => Err(api_error_response(&ApiError::from_auth(&err, id), id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)], uri: &str) -> Request {
        let mut builder = Request::builder().uri(uri.parse().unwrap());
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.finish()
    }

    #[test]
    fn tokens_are_read_in_contract_order() {
        let all = req(
            &[
                ("authorization", "Bearer b"),
                ("x-session-token", "h"),
                ("cookie", "a=1; session_token=c"),
            ],
            "/events?session_token=q",
        );
        assert_eq!(token_from_request(&all, true).as_deref(), Some("b"));
        let no_bearer = req(
            &[("x-session-token", "h"), ("cookie", "session_token=c")],
            "/",
        );
        assert_eq!(token_from_request(&no_bearer, true).as_deref(), Some("h"));
        let cookie = req(&[("cookie", "x=y; session_token=c")], "/?session_token=q");
        assert_eq!(token_from_request(&cookie, true).as_deref(), Some("c"));
        let query = req(&[], "/events?client_id=1&session_token=q");
        assert_eq!(token_from_request(&query, true).as_deref(), Some("q"));
        assert_eq!(
            token_from_request(&query, false),
            None,
            "the query is read only where allowed"
        );
        let basic = req(&[("authorization", "Basic abc")], "/");
        assert_eq!(token_from_request(&basic, false), None);
    }
}
