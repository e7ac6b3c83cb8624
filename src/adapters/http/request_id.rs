//! Adapters (http): the per-request correlation id, taken from `X-Request-Id` when it is
//! well-formed, generated otherwise, and echoed on every response.

use poem::http::{HeaderName, HeaderValue};
use poem::{FromRequest, Request, RequestBody};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id that ties a request's logs, error body and upstream calls together. It is kept as
/// the header value it travels as, so echoing it and passing it on copy nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationId(HeaderValue);

/// Whether a client-sent id may be kept: 1..=128 characters of `[A-Za-z0-9._:-]`, so a
/// header cannot inject text into logs or upstream headers.
fn well_formed(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

impl CorrelationId {
    /// The client's `X-Request-Id` when it is well-formed, a fresh id otherwise.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        match value.filter(|v| well_formed(v.as_bytes())) {
            Some(v) => Self(v.clone()),
            None => Self::generated(),
        }
    }

    /// A fresh id (a random UUID).
    pub fn generated() -> Self {
        let mut buf = uuid::Uuid::encode_buffer();
        let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
        // A UUID's text is always a valid header value.
        Self(HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("unknown")))
    }

    pub fn as_str(&self) -> &str {
        // Only well-formed ASCII ids are ever kept, so this is never empty.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as the `X-Request-Id` value it is echoed and passed on as.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl<'a> FromRequest<'a> for CorrelationId {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(req
            .extensions()
            .get::<CorrelationId>()
            .cloned()
            .unwrap_or_else(Self::generated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_are_kept_and_others_replaced() {
        let header = |v: &str| HeaderValue::from_str(v).unwrap();
        let kept = CorrelationId::from_header(Some(&header("abc-123")));
        assert_eq!(kept.as_str(), "abc-123");
        assert_eq!(kept.header_value(), "abc-123");
        let replaced = CorrelationId::from_header(Some(&header("bad id; x=y")));
        assert_ne!(replaced.as_str(), "bad id; x=y");
        assert!(uuid::Uuid::parse_str(replaced.as_str()).is_ok());
        let long = CorrelationId::from_header(Some(&header(&"a".repeat(129))));
        assert_eq!(long.as_str().len(), 36);
        assert_eq!(CorrelationId::from_header(None).as_str().len(), 36);
        let raw = HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
        assert_eq!(CorrelationId::from_header(Some(&raw)).as_str().len(), 36);
    }
}
