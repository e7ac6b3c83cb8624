//! Adapters (http): the JSON shapes of the auth routes (CONTRACT section 2), and their
//! conversion to and from the domain.

use super::checked::{
    Checked, IdpTokenRule, JsonString, PermissionRule, PlaybookPathRule, TokenRule,
};
use poem_openapi::Object;
use serde::Serialize;

use crate::domain::{IdpToken, LoginRequest, User, ValidationError};

/// The user behind a session.
#[derive(Debug, Clone, Object, Serialize)]
pub struct UserBody {
    /// 64-bit user id.
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
}

impl From<&User> for UserBody {
    fn from(u: &User) -> Self {
        Self {
            user_id: u.user_id.get(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            roles: u.roles.as_slice().to_vec(),
        }
    }
}

/// `POST /api/auth/login` body.
#[derive(Debug, Object)]
pub struct LoginBody {
    /// The identity provider's ID token.
    pub auth0_token: Checked<IdpTokenRule>,
    #[oai(nullable)]
    pub auth0_refresh_token: Option<JsonString>,
    #[oai(nullable)]
    pub auth0_domain: Option<JsonString>,
    /// How long the new session lasts, in hours (up to a year).
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "8760")))]
    pub session_duration_hours: Option<u32>,
    #[oai(nullable)]
    pub client_ip: Option<JsonString>,
    #[oai(nullable)]
    pub client_user_agent: Option<JsonString>,
}

impl LoginBody {
    pub fn try_into_domain(self, peer_ip: Option<String>) -> Result<LoginRequest, ValidationError> {
        Ok(LoginRequest {
            auth0_token: IdpToken::parse(&self.auth0_token)?,
            auth0_refresh_token: self
                .auth0_refresh_token
                .filter(|t| !t.trim().is_empty())
                .map(|t| IdpToken::parse(&t))
                .transpose()?,
            auth0_domain: self.auth0_domain.map(Into::into),
            session_duration_hours: self.session_duration_hours,
            client_ip: self.client_ip.map(Into::into).or(peer_ip),
            client_user_agent: self.client_user_agent.map(Into::into),
        })
    }
}

/// A successful login.
#[derive(Debug, Object, Serialize)]
pub struct LoginOk {
    /// Always `authenticated`.
    pub status: String,
    pub session_token: String,
    pub user: UserBody,
    /// As NoETL produced it: RFC 3339 or PostgreSQL's text form.
    pub expires_at: Option<String>,
    pub message: String,
}

/// `POST /api/auth/validate` body.
#[derive(Debug, Object)]
pub struct ValidateBody {
    /// Visible ASCII characters; blanks around them are ignored.
    pub session_token: Checked<TokenRule>,
}

/// Whether a session is valid; `user` and `expires_at` are null when it is not.
#[derive(Debug, Object, Serialize)]
pub struct ValidateOk {
    pub valid: bool,
    #[oai(nullable)]
    pub user: Option<UserBody>,
    #[oai(nullable)]
    pub expires_at: Option<String>,
    pub message: String,
}

/// `POST /api/auth/check-access` body.
#[derive(Debug, Object)]
pub struct CheckAccessBody {
    /// Visible ASCII characters; blanks around them are ignored.
    pub session_token: Checked<TokenRule>,
    /// Segments of ASCII letters, digits, `-`, `_` and `.` joined by `/`; no `.` or `..`.
    pub playbook_path: Checked<PlaybookPathRule>,
    /// `execute` (default), `view` or `modify`, in any case.
    #[oai(nullable)]
    pub permission_type: Option<Checked<PermissionRule>>,
}

/// The access decision.
#[derive(Debug, Object, Serialize)]
pub struct CheckAccessOk {
    pub allowed: bool,
    #[oai(nullable)]
    pub user: Option<UserBody>,
    pub playbook_path: String,
    pub permission_type: String,
    pub message: String,
}

/// `POST /api/auth/logout` body; the token may come from a header or cookie instead.
#[derive(Debug, Object)]
pub struct LogoutBody {
    #[oai(nullable)]
    pub session_token: Option<JsonString>,
}

/// Logout answer (the same whether or not the session existed).
#[derive(Debug, Object, Serialize)]
pub struct LogoutOk {
    /// Always `logged_out`.
    pub status: String,
    pub message: String,
}
