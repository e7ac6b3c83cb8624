//! Domain: what a login asks for, what access is checked for, and their outcomes.

use std::fmt;

use serde_json::Value;

use super::{ExpiresAt, PlaybookPath, Session, SessionToken, User, ValidationError};

/// An identity-provider token handed in for login. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct IdpToken(String);

impl IdpToken {
    /// # Errors
    /// A [`ValidationError`] for `auth0_token` when empty or over 16 KiB.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("auth0_token", "must not be empty"));
        }
        if trimmed.len() > 16 * 1024 {
            return Err(ValidationError::new(
                "auth0_token",
                "must be at most 16384 characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdpToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdpToken(<redacted>)")
    }
}

/// A login request, as the login playbook and NoETL's login route take it.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub auth0_token: IdpToken,
    pub auth0_refresh_token: Option<IdpToken>,
    pub auth0_domain: Option<String>,
    pub session_duration_hours: Option<u32>,
    pub client_ip: Option<String>,
    pub client_user_agent: Option<String>,
}

/// A successful login: the new session and the token that names it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginSuccess {
    pub session_token: SessionToken,
    pub session: Session,
}

/// What the identity backend said of a login.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginVerdict {
    Authenticated(LoginSuccess),
    Refused { reason: String },
}

impl LoginVerdict {
    /// Reads the `data` of a login answer (playbook callback or NoETL's login route):
    /// `{"status":"authenticated","session_token","user","expires_at"}` or `{"error","message"}`.
    pub fn from_data(success: bool, data: &Value) -> Self {
        let refused = |fallback: &str| Self::Refused {
            reason: text(data, "error")
                .or_else(|| text(data, "message"))
                .unwrap_or_else(|| fallback.to_owned()),
        };
        if !success || data.get("status").and_then(Value::as_str) != Some("authenticated") {
            return refused("Authentication failed");
        }
        let token = text(data, "session_token").and_then(|t| SessionToken::parse(&t).ok());
        let user = data
            .get("user")
            .and_then(|u| serde_json::from_value::<User>(u.clone()).ok());
        let expires_at = text(data, "expires_at").and_then(|e| ExpiresAt::parse(&e).ok());
        match (token, user) {
            (Some(session_token), Some(user)) => Self::Authenticated(LoginSuccess {
                session_token,
                session: Session {
                    user,
                    expires_at,
                    is_active: true,
                },
            }),
            _ => refused("The login answer had no usable session"),
        }
    }
}

fn text(data: &Value, key: &str) -> Option<String> {
    data.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

/// The kind of access being checked on a playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Execute,
    View,
    Modify,
}

impl Permission {
    /// # Errors
    /// A [`ValidationError`] for `permission_type` outside `execute|view|modify`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "execute" => Ok(Self::Execute),
            "view" => Ok(Self::View),
            "modify" => Ok(Self::Modify),
            _ => Err(ValidationError::new(
                "permission_type",
                "must be one of execute, view, modify",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Execute => "execute",
            Self::View => "view",
            Self::Modify => "modify",
        }
    }
}

/// One access question.
#[derive(Debug, Clone)]
pub struct AccessQuery {
    pub session_token: SessionToken,
    pub playbook_path: PlaybookPath,
    pub permission: Permission,
}

/// The answer to an access question.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessDecision {
    pub allowed: bool,
    pub user: Option<User>,
    pub message: String,
}

impl AccessDecision {
    /// Reads the `data` of an access answer; an error answer means not allowed.
    pub fn from_data(success: bool, data: &Value) -> Self {
        let user = data
            .get("user")
            .and_then(|u| serde_json::from_value::<User>(u.clone()).ok());
        let allowed = success
            && data
                .get("allowed")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        let message = text(data, "message")
            .or_else(|| text(data, "error"))
            .unwrap_or_else(|| {
                if allowed {
                    "Access granted"
                } else {
                    "Access denied"
                }
                .to_owned()
            });
        Self {
            allowed,
            user,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_login_answer_is_read_into_a_session_or_a_reason() {
        let ok = json!({"status": "authenticated", "session_token": "tok-1",
            "user": {"user_id": "7", "email": "a@b.c", "display_name": "A", "roles": "{admin}"},
            "expires_at": "2026-11-28 06:49:27.213082+00"});
        let LoginVerdict::Authenticated(s) = LoginVerdict::from_data(true, &ok) else {
            panic!("authenticated")
        };
        assert_eq!(s.session.user.user_id.get(), 7);
        assert!(s.session.user.roles.contains("admin"));
        assert_eq!(
            s.session.expires_at.unwrap().as_str(),
            "2026-11-28 06:49:27.213082+00"
        );

        let refused = LoginVerdict::from_data(false, &json!({"error": "Invalid token"}));
        assert_eq!(
            refused,
            LoginVerdict::Refused {
                reason: "Invalid token".into()
            }
        );
        let not_auth = LoginVerdict::from_data(true, &json!({"status": "pending"}));
        assert!(matches!(not_auth, LoginVerdict::Refused { .. }));
        let no_token = LoginVerdict::from_data(
            true,
            &json!({"status": "authenticated", "user": {"user_id": 1}}),
        );
        assert!(matches!(no_token, LoginVerdict::Refused { .. }));
    }

    #[test]
    fn an_access_error_answer_is_a_denial() {
        let denied =
            AccessDecision::from_data(false, &json!({"allowed": true, "error": "Invalid session"}));
        assert!(!denied.allowed);
        assert_eq!(denied.message, "Invalid session");
        let granted = AccessDecision::from_data(true, &json!({"allowed": true}));
        assert!(granted.allowed);
        assert!(Permission::parse("EXECUTE").is_ok());
        assert!(Permission::parse("delete").is_err());
    }

    #[test]
    fn idp_tokens_do_not_print() {
        let t = IdpToken::parse("eyJsecret").unwrap();
        assert!(!format!("{t:?}").contains("eyJsecret"));
    }
}
