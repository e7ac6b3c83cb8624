//! Domain: a session and its expiry, which arrives as RFC 3339 or in PostgreSQL's text form
//! and is handed back to clients exactly as it came.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{User, ValidationError};

/// When a session ends: the instant, plus the text it arrived as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiresAt {
    original: String,
    at: OffsetDateTime,
}

impl ExpiresAt {
    /// Parses `2026-11-28T06:49:27Z`-style RFC 3339 or `2026-11-28 06:49:27.213082+00`.
    ///
    /// # Errors
    /// A [`ValidationError`] for `expires_at` when neither form matches.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        let at = OffsetDateTime::parse(trimmed, &Rfc3339)
            .or_else(|_| OffsetDateTime::parse(&postgres_to_rfc3339(trimmed), &Rfc3339))
            .map_err(|_| {
                ValidationError::new("expires_at", "must be RFC 3339 or PostgreSQL timestamptz")
            })?;
        Ok(Self {
            original: trimmed.to_owned(),
            at,
        })
    }

    pub fn from_instant(at: OffsetDateTime) -> Self {
        let original = at.format(&Rfc3339).unwrap_or_else(|_| at.to_string());
        Self { original, at }
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }

    pub fn instant(&self) -> OffsetDateTime {
        self.at
    }

    pub fn is_past(&self, now: OffsetDateTime) -> bool {
        self.at <= now
    }
}

/// `2026-11-28 06:49:27.213082+00` → `2026-11-28T06:49:27.213082+00:00`.
fn postgres_to_rfc3339(text: &str) -> String {
    let mut out = text.replacen(' ', "T", 1);
    let offset_start = out.rfind(['+', '-']).filter(|&i| i > 10);
    if let Some(i) = offset_start {
        let offset = &out[i + 1..];
        let fixed = match offset.len() {
            2 => format!("{offset}:00"),
            4 if !offset.contains(':') => format!("{}:{}", &offset[..2], &offset[2..]),
            _ => offset.to_owned(),
        };
        out.truncate(i + 1);
        out.push_str(&fixed);
    }
    out
}

impl Serialize for ExpiresAt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.original)
    }
}

impl<'de> Deserialize<'de> for ExpiresAt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A verified session: who it belongs to, until when, and whether it is still active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub expires_at: Option<ExpiresAt>,
    pub is_active: bool,
}

impl Session {
    /// Whether the session may be used at `now`: active and not past its expiry.
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.is_active && !self.expires_at.as_ref().is_some_and(|e| e.is_past(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Roles, UserId};
    use time::Duration;

    #[test]
    fn expiry_is_read_in_both_forms_and_handed_back_as_it_came() {
        let pg = ExpiresAt::parse("2026-11-28 06:49:27.213082+00").unwrap();
        let rfc = ExpiresAt::parse("2026-11-28T06:49:27.213082Z").unwrap();
        assert_eq!(pg.instant(), rfc.instant());
        assert_eq!(pg.as_str(), "2026-11-28 06:49:27.213082+00");
        let json = serde_json::to_string(&pg).unwrap();
        assert_eq!(json, "\"2026-11-28 06:49:27.213082+00\"");
        assert!(ExpiresAt::parse("2026-11-28 06:49:27+0530").is_ok());
        assert!(ExpiresAt::parse("2026-11-28 06:49:27-05").is_ok());
        assert!(ExpiresAt::parse("tomorrow").is_err());
    }

    #[test]
    fn an_inactive_or_expired_session_is_not_usable() {
        let now = OffsetDateTime::now_utc();
        let user = User {
            user_id: UserId::new(1),
            email: "a@b.c".into(),
            display_name: "A".into(),
            roles: Roles::default(),
        };
        let mut s = Session {
            user,
            expires_at: Some(ExpiresAt::from_instant(now + Duration::minutes(5))),
            is_active: true,
        };
        assert!(s.is_usable(now));
        s.expires_at = Some(ExpiresAt::from_instant(now - Duration::seconds(1)));
        assert!(!s.is_usable(now));
        s.expires_at = None;
        assert!(s.is_usable(now));
        s.is_active = false;
        assert!(!s.is_usable(now));
    }
}
