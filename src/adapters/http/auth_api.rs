//! Adapters (http): the REST auth routes under `/api/auth`.

use std::sync::Arc;

use poem::Request;
use poem::web::{Data, RemoteAddr};
use poem_openapi::{OpenApi, Tags};

use super::answer_memo::AnswerMemo;
use super::auth_dto::{
    CheckAccessBody, CheckAccessOk, LoginBody, LoginOk, LogoutBody, LogoutOk, UserBody,
    ValidateBody, ValidateOk,
};
use super::error::{ApiError, ErrorCode, Reply};
use super::json_in::JsonIn;
use super::json_out::{JsonOut, written};
use super::request_id::CorrelationId;
use super::session_auth::{SessionAuth, token_from_request};
use crate::app::Gateway;
use crate::domain::{AccessQuery, LoginVerdict, Permission, PlaybookPath, Session, SessionToken};

#[derive(Tags)]
enum AuthTag {
    /// Login, session validation, access checks and logout.
    Auth,
}

/// The auth routes, with the validate answers of cached sessions written once per session.
#[derive(Default)]
pub struct AuthApi {
    answers: AnswerMemo<Session>,
}

impl AuthApi {
    /// The answer that `session` is valid, as written for it before when it was.
    fn valid_answer(&self, session: &Arc<Session>) -> JsonOut<ValidateOk> {
        match self.answers.get_or_write(session, |s| written(&valid(s))) {
            Some(document) => JsonOut::Written(document),
            None => JsonOut::Value(valid(session)),
        }
    }
}

fn valid(session: &Session) -> ValidateOk {
    ValidateOk {
        valid: true,
        user: Some(UserBody::from(&session.user)),
        expires_at: session.expires_at.as_ref().map(|e| e.as_str().to_owned()),
        message: "Session is valid".to_owned(),
    }
}

fn invalid() -> ValidateOk {
    ValidateOk {
        valid: false,
        user: None,
        expires_at: None,
        message: "Session is invalid or expired".to_owned(),
    }
}

#[OpenApi(prefix_path = "/api/auth", tag = "AuthTag::Auth")]
impl AuthApi {
    /// Log in with an identity-provider token; answers the new session.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        body: JsonIn<LoginBody>,
        gateway: Data<&Arc<Gateway>>,
        id: CorrelationId,
        peer: &RemoteAddr,
    ) -> Reply<LoginOk> {
        let peer_ip = peer.as_socket_addr().map(|a| a.ip().to_string());
        let request = match body.0.try_into_domain(peer_ip) {
            Ok(r) => r,
            Err(e) => return ApiError::invalid_input(&e, &id).into(),
        };
        match gateway.auth.login(request).await {
            Ok(LoginVerdict::Authenticated(success)) => Reply::Ok(JsonOut::Value(LoginOk {
                status: "authenticated".to_owned(),
                session_token: success.session_token.expose().to_owned(),
                user: UserBody::from(&success.session.user),
                expires_at: success
                    .session
                    .expires_at
                    .as_ref()
                    .map(|e| e.as_str().to_owned()),
                message: "Authentication successful".to_owned(),
            })),
            Ok(LoginVerdict::Refused { reason }) => ApiError::unauthenticated(&reason, &id).into(),
            Err(e) => ApiError::from_auth(&e, &id).into(),
        }
    }

    /// Validate a session token given in the body. 200 whenever the backend answered.
    #[oai(path = "/validate", method = "post")]
    async fn validate(
        &self,
        body: JsonIn<ValidateBody>,
        gateway: Data<&Arc<Gateway>>,
        id: CorrelationId,
    ) -> Reply<ValidateOk> {
        let Ok(token) = SessionToken::parse_owned(body.0.session_token.into()) else {
            return Reply::Ok(JsonOut::Value(invalid()));
        };
        match gateway.auth.resolve(&token).await {
            Ok(Some(session)) => Reply::Ok(self.valid_answer(&session)),
            Ok(None) => Reply::Ok(JsonOut::Value(invalid())),
            Err(e) => ApiError::from_auth(&e, &id).into(),
        }
    }

    /// The caller's own session (token from the bearer header, `X-Session-Token` or cookie).
    #[oai(path = "/session", method = "get")]
    async fn session(
        &self,
        auth: SessionAuth,
        gateway: Data<&Arc<Gateway>>,
        id: CorrelationId,
    ) -> Reply<ValidateOk> {
        let Ok(token) = SessionToken::parse(auth.raw_token()) else {
            return ApiError::unauthenticated("Invalid or expired session", &id).into();
        };
        match gateway.auth.resolve(&token).await {
            Ok(Some(session)) => Reply::Ok(self.valid_answer(&session)),
            Ok(None) => ApiError::unauthenticated("Invalid or expired session", &id).into(),
            Err(e) => ApiError::from_auth(&e, &id).into(),
        }
    }

    /// Check whether a session may use a playbook (an error from the check means no).
    #[oai(path = "/check-access", method = "post")]
    async fn check_access(
        &self,
        body: JsonIn<CheckAccessBody>,
        gateway: Data<&Arc<Gateway>>,
        id: CorrelationId,
    ) -> Reply<CheckAccessOk> {
        let body = body.0;
        let permission_type = body
            .permission_type
            .map_or_else(|| "execute".to_owned(), Into::into);
        let (path, permission) = match (
            PlaybookPath::parse(&body.playbook_path),
            Permission::parse(&permission_type),
        ) {
            (Ok(p), Ok(m)) => (p, m),
            (Err(e), _) | (_, Err(e)) => return ApiError::invalid_input(&e, &id).into(),
        };
        let denied = |message: &str| CheckAccessOk {
            allowed: false,
            user: None,
            playbook_path: path.to_string(),
            permission_type: permission.as_str().to_owned(),
            message: message.to_owned(),
        };
        let Ok(token) = SessionToken::parse(&body.session_token) else {
            return Reply::Ok(JsonOut::Value(denied("Session is invalid or expired")));
        };
        // An unknown session is refused here, without running a playbook for it.
        match gateway.auth.resolve(&token).await {
            Ok(Some(_)) => {}
            Ok(None) => return Reply::Ok(JsonOut::Value(denied("Session is invalid or expired"))),
            Err(e) => return ApiError::from_auth(&e, &id).into(),
        }
        let query = AccessQuery {
            session_token: token,
            playbook_path: path.clone(),
            permission,
        };
        match gateway.auth.check_access(query).await {
            Ok(decision) => Reply::Ok(JsonOut::Value(CheckAccessOk {
                allowed: decision.allowed,
                user: decision.user.as_ref().map(UserBody::from),
                playbook_path: path.to_string(),
                permission_type: permission.as_str().to_owned(),
                message: decision.message,
            })),
            Err(e) => ApiError::from_auth(&e, &id).into(),
        }
    }

    /// End a session on every replica. 200 whether or not it existed. The token comes from
    /// the body or, with a body of `{}`, from the bearer header, `X-Session-Token` or cookie.
    #[oai(path = "/logout", method = "post")]
    async fn logout(
        &self,
        body: JsonIn<LogoutBody>,
        gateway: Data<&Arc<Gateway>>,
        id: CorrelationId,
        req: &Request,
    ) -> Reply<LogoutOk> {
        let raw = body
            .0
            .session_token
            .map(String::from)
            .or_else(|| token_from_request(req, false));
        let Some(raw) = raw else {
            return ApiError::new(
                poem::http::StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                "session_token: give it in the body, a bearer header, X-Session-Token or the cookie",
                &id,
            )
            .into();
        };
        if let Ok(token) = SessionToken::parse(&raw) {
            gateway.auth.logout(&token).await;
        }
        Reply::Ok(JsonOut::Value(LogoutOk {
            status: "logged_out".to_owned(),
            message: "Session ended".to_owned(),
        }))
    }
}
