//! Domain: the session token (a secret) and the one-way key it is stored under.
//!
//! The key is a SHA-256 digest so that anyone who can read the shared session store cannot
//! replay live tokens; sha2 is the one dependency the domain takes beyond std and serde.

use std::fmt;

use sha2::{Digest, Sha256};

use super::ValidationError;

const MAX_TOKEN_LEN: usize = 4096;

/// A bearer session token. Never printed: `Debug` and `Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionToken(String);

impl SessionToken {
    /// Parses a token: 1 to 4096 visible ASCII characters, surrounding blanks trimmed.
    ///
    /// # Errors
    /// A [`ValidationError`] for `session_token` that never quotes the token itself.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::check(raw).map(|token| Self(token.to_owned()))
    }

    /// As [`SessionToken::parse`], keeping `raw`'s own buffer when it has no blanks to trim.
    ///
    /// # Errors
    /// As [`SessionToken::parse`].
    pub fn parse_owned(raw: String) -> Result<Self, ValidationError> {
        let token = Self::check(&raw)?;
        if token.len() == raw.len() {
            Ok(Self(raw))
        } else {
            Ok(Self(token.to_owned()))
        }
    }

    /// The token `raw` holds (blanks around it trimmed), or why it holds none; copies
    /// nothing.
    ///
    /// # Errors
    /// As [`SessionToken::parse`].
    pub fn check(raw: &str) -> Result<&str, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("session_token", "must not be empty"));
        }
        if trimmed.len() > MAX_TOKEN_LEN {
            return Err(ValidationError::new(
                "session_token",
                format!("must be at most {MAX_TOKEN_LEN} characters"),
            ));
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ValidationError::new(
                "session_token",
                "may contain only visible ASCII characters",
            ));
        }
        Ok(trimmed)
    }

    /// The secret itself, for the few places that must send it on (NoETL, the client).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The one-way key under which this session is cached and invalidated.
    pub fn key(&self) -> SessionKey {
        let digest = Sha256::digest(self.0.as_bytes());
        let mut hex = [0u8; KEY_LEN];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(digest) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0x0f)];
        }
        SessionKey(hex)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";
/// The length of a key: a SHA-256 digest in hex.
const KEY_LEN: usize = 64;

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

impl fmt::Display for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The lowercase hex SHA-256 digest of a session token: safe to log, store and compare.
/// Held inline (it is computed on every authenticated request).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey([u8; KEY_LEN]);

impl SessionKey {
    /// Parses a key read back from a store (64 lowercase hex digits).
    ///
    /// # Errors
    /// A [`ValidationError`] when the text is not a SHA-256 hex digest.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let hex = <[u8; KEY_LEN]>::try_from(raw.as_bytes()).ok();
        match hex.filter(|h| h.iter().all(|b| HEX.contains(b))) {
            Some(hex) => Ok(Self(hex)),
            None => Err(ValidationError::new(
                "session_key",
                "must be 64 lowercase hex digits",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from hex digits, so always text.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionKey").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_shows_in_debug_or_display() {
        let token = SessionToken::parse("s3cr3t-token-value").unwrap();
        assert!(!format!("{token:?}").contains("s3cr3t"));
        assert!(!format!("{token}").contains("s3cr3t"));
    }

    #[test]
    fn a_token_key_is_the_sha256_hex_digest() {
        let token = SessionToken::parse("abc").unwrap();
        assert_eq!(
            token.key().as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(SessionKey::parse(token.key().as_str()).is_ok());
        assert!(SessionKey::parse("abc").is_err());
    }

    #[test]
    fn empty_oversized_and_control_character_tokens_are_refused() {
        assert!(SessionToken::parse("   ").is_err());
        assert!(SessionToken::parse(&"x".repeat(4097)).is_err());
        assert!(SessionToken::parse("a\u{0}b").is_err());
        assert!(SessionToken::parse("a b").is_err());
        let err = SessionToken::parse("bad token").unwrap_err();
        assert!(!err.to_string().contains("bad token"));
    }

    #[test]
    fn an_owned_token_parses_as_a_borrowed_one() {
        for raw in ["abc", "  abc\t", "", " ", "a b", "a\u{7f}"] {
            assert_eq!(
                SessionToken::parse_owned(raw.to_owned()).ok(),
                SessionToken::parse(raw).ok(),
                "{raw:?}"
            );
            assert_eq!(
                SessionToken::check(raw).ok(),
                SessionToken::parse(raw)
                    .ok()
                    .as_ref()
                    .map(SessionToken::expose)
            );
        }
        assert_eq!(
            SessionToken::parse_owned(" abc ".into()).unwrap().expose(),
            "abc"
        );
    }
}
