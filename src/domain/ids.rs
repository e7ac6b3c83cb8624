//! Domain: identifiers that cross the wire (execution, request and client ids), validated once.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ValidationError;

const MAX_ID_LEN: usize = 128;

fn check_id(field: &'static str, raw: &str, max: usize) -> Result<(), ValidationError> {
    if raw.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if raw.len() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if !raw.chars().all(allowed) {
        return Err(ValidationError::new(
            field,
            "may contain only ASCII letters, digits and - _ . :",
        ));
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier: 1 to 128 characters of ASCII letters, digits and `-_.:`.
            ///
            /// # Errors
            /// A [`ValidationError`] naming the rule that was broken.
            pub fn parse(raw: &str) -> Result<Self, ValidationError> {
                check_id($field, raw, MAX_ID_LEN)?;
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// Correlates a started playbook with the callback its worker posts back.
    RequestId,
    "request_id"
);
string_id!(
    /// Names one real-time client (one browser tab's event stream).
    ClientId,
    "client_id"
);

string_id!(
    /// Names one open event stream of a client (an SSE connection), so that a newer stream
    /// for the same client, on any replica, can tell the older ones to end.
    StreamId,
    "stream_id"
);

impl RequestId {
    /// A fresh random request id (UUID v4).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

impl ClientId {
    /// A fresh random client id (UUID v4).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

impl StreamId {
    /// A fresh random stream id (UUID v4).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

/// A NoETL execution id. The server sends it as a string in one answer and as a 64-bit number in
/// others; it is kept as its decimal text so that ids above 2^53 never pass through a float.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutionId(String);

impl ExecutionId {
    /// Parses an execution id from text: 1 to 64 ASCII letters, digits, `-` or `_`.
    ///
    /// # Errors
    /// A [`ValidationError`] when the text is empty, too long or has other characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        check_id("execution_id", trimmed, 64)?;
        if trimmed.contains(['.', ':']) {
            return Err(ValidationError::new(
                "execution_id",
                "may contain only ASCII letters, digits, - and _",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn from_u64(n: u64) -> Self {
        Self(n.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ExecutionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ExecutionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Text(String),
            Unsigned(u64),
            Signed(i64),
        }
        match Wire::deserialize(d)? {
            Wire::Text(s) => Self::parse(&s).map_err(serde::de::Error::custom),
            Wire::Unsigned(n) => Ok(Self::from_u64(n)),
            Wire::Signed(n) => Self::parse(&n.to_string()).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_id_accepts_a_json_string_or_a_number() {
        let from_text: ExecutionId = serde_json::from_str("\"583140612345678901\"").unwrap();
        let from_number: ExecutionId = serde_json::from_str("583140612345678901").unwrap();
        assert_eq!(from_text, from_number);
        assert_eq!(from_number.as_str(), "583140612345678901");
    }

    #[test]
    fn execution_id_above_two_to_the_53_keeps_every_digit() {
        let id: ExecutionId = serde_json::from_str("9007199254740993").unwrap();
        assert_eq!(id.as_str(), "9007199254740993");
    }

    #[test]
    fn execution_id_rejects_floats_empty_and_odd_text() {
        assert!(serde_json::from_str::<ExecutionId>("1.5").is_err());
        assert!(ExecutionId::parse("").is_err());
        assert!(ExecutionId::parse("12/../3").is_err());
        assert!(ExecutionId::parse(&"9".repeat(65)).is_err());
    }

    #[test]
    fn request_and_client_ids_reject_empty_long_and_unsafe_text() {
        assert!(RequestId::parse("").is_err());
        assert!(RequestId::parse(&"a".repeat(129)).is_err());
        assert!(ClientId::parse("a b").is_err());
        assert!(ClientId::parse("tab-1.x:y_z").is_ok());
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
