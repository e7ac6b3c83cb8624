//! Domain: a playbook's catalog path, validated so it can never escape or smuggle syntax.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ValidationError;

const MAX_PATH_LEN: usize = 256;

/// A catalog path such as `api_integration/auth0/auth0_login`: segments of ASCII letters,
/// digits, `-`, `_` and `.`, joined by `/`, no leading `/`, no `..` or empty segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlaybookPath(String);

impl PlaybookPath {
    /// # Errors
    /// A [`ValidationError`] for `playbook_path` naming the broken rule.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |reason: &str| Err(ValidationError::new("playbook_path", reason));
        if raw.is_empty() {
            return err("must not be empty");
        }
        if raw.len() > MAX_PATH_LEN {
            return err("must be at most 256 characters");
        }
        if raw.starts_with('/') {
            return err("must not start with '/'");
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        for segment in raw.split('/') {
            if segment.is_empty() {
                return err("must not contain an empty segment");
            }
            if segment == ".." || segment == "." {
                return err("must not contain '.' or '..' segments");
            }
            if !segment.chars().all(allowed) {
                return err("segments may contain only ASCII letters, digits, '-', '_' and '.'");
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlaybookPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for PlaybookPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PlaybookPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_paths_in_use_are_accepted() {
        for ok in [
            "api_integration/auth0/auth0_login",
            "tests/echo",
            "a",
            "examples/v1.2/run-me",
        ] {
            assert!(PlaybookPath::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn escaping_and_odd_paths_are_refused() {
        for bad in [
            "", "/abs", "a/../b", "..", "a//b", "a/./b", "a b", "a\\b", "a%2fb", "a/b/",
        ] {
            assert!(PlaybookPath::parse(bad).is_err(), "{bad}");
        }
        assert!(PlaybookPath::parse(&"a".repeat(257)).is_err());
    }
}
