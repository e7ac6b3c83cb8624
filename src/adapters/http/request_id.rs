//! Adapters (http): the per-request correlation id, taken from `X-Request-Id` when it is
//! well-formed, generated otherwise, and echoed on every response.

use poem::http::HeaderName;
use poem::{FromRequest, Request, RequestBody};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id that ties a request's logs, error body and upstream calls together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationId(String);

impl CorrelationId {
    /// Takes a client-sent id only when it is 1..=128 characters of `[A-Za-z0-9._:-]`, so a
    /// header cannot inject text into logs or upstream headers.
    pub fn from_header(value: Option<&str>) -> Self {
        let ok = |v: &&str| {
            !v.is_empty()
                && v.len() <= 128
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        };
        match value.filter(ok) {
            Some(v) => Self(v.to_owned()),
            None => Self(uuid::Uuid::new_v4().to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'a> FromRequest<'a> for CorrelationId {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(req
            .extensions()
            .get::<CorrelationId>()
            .cloned()
            .unwrap_or_else(|| Self::from_header(None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_are_kept_and_others_replaced() {
        assert_eq!(
            CorrelationId::from_header(Some("abc-123")).as_str(),
            "abc-123"
        );
        let replaced = CorrelationId::from_header(Some("bad id\r\nx: y"));
        assert_ne!(replaced.as_str(), "bad id\r\nx: y");
        assert_eq!(replaced.as_str().len(), 36);
        assert_eq!(
            CorrelationId::from_header(Some(&"a".repeat(129)))
                .as_str()
                .len(),
            36
        );
    }
}
