//! App: the authentication use cases. Login (through the login playbook and its callback, or
//! NoETL's synchronous route), session resolution through two cache levels with
//! single-flight, access checks, logout across replicas, and the callback hand-off.

mod local;
mod pending;
mod resolve;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tokio::sync::OwnedSemaphorePermit;

pub use local::{Local, LocalSessions};

use super::metrics::Metrics;
use pending::Pending;
use resolve::Flights;

use crate::domain::{
    AccessDecision, AccessQuery, AuthReply, LoginRequest, LoginSuccess, LoginVerdict, PlaybookPath,
    Session, SessionKey, SessionToken,
};
use crate::ports::{
    Invalidation, PlaybookRunner, ReplyBus, ReplyBusError, ReplyOutcome, RunnerError, SessionCache,
};

/// How the gateway reaches NoETL for auth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Through the auth playbooks and their callbacks (the upstream gateway's way).
    Playbook,
    /// Through NoETL's synchronous auth routes (no worker involved).
    Direct,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub login_playbook: PlaybookPath,
    /// When set (and in playbook mode), validation runs this playbook instead of NoETL's
    /// synchronous session route.
    pub validate_playbook: Option<PlaybookPath>,
    pub check_access_playbook: PlaybookPath,
    pub playbook_timeout: Duration,
    /// Auth operations this replica waits on NoETL for at once: playbooks (each holds a
    /// subscription and an execution for up to `playbook_timeout`) and synchronous calls.
    /// Past it a new one is refused at once.
    pub max_pending: usize,
    /// Where workers reach this replica's internal listener.
    pub gateway_url: String,
}

/// Why an auth operation got no answer. Cloneable so one backend failure can be shared by
/// every caller waiting on the same lookup.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("the identity backend is unavailable")]
    Unavailable(#[source] Arc<RunnerError>),
    #[error("the identity backend did not answer in time")]
    Timeout,
    #[error("the identity backend failed")]
    Backend(#[source] Arc<RunnerError>),
    #[error("the {0} playbook did not call back in time")]
    CallbackTimeout(&'static str),
    #[error("the callback channel is unavailable")]
    Callbacks(#[source] Arc<ReplyBusError>),
    #[error("too many requests are waiting on the identity backend; retry shortly")]
    Busy,
}

impl From<RunnerError> for AuthError {
    fn from(err: RunnerError) -> Self {
        match err {
            RunnerError::Unavailable(_) => Self::Unavailable(Arc::new(err)),
            RunnerError::Timeout => Self::Timeout,
            other => Self::Backend(Arc::new(other)),
        }
    }
}

impl From<ReplyBusError> for AuthError {
    fn from(err: ReplyBusError) -> Self {
        Self::Callbacks(Arc::new(err))
    }
}

#[derive(Debug, Clone)]
pub struct AuthService<R, C, Y> {
    runner: R,
    cache: C,
    replies: Y,
    settings: Arc<AuthSettings>,
    local: LocalSessions,
    flights: Flights,
    metrics: Arc<Metrics>,
    /// One place per auth operation this replica may wait on NoETL for.
    backend_slots: crate::sync::Places,
}

impl<R: PlaybookRunner, C: SessionCache, Y: ReplyBus> AuthService<R, C, Y> {
    pub fn new(
        runner: R,
        cache: C,
        replies: Y,
        settings: AuthSettings,
        local: LocalSessions,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            backend_slots: crate::sync::Places::new(settings.max_pending),
            runner,
            cache,
            replies,
            settings: Arc::new(settings),
            local,
            flights: Flights::default(),
            metrics,
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Keeps the local level in step with the shared one: every replica drops its copy when
    /// any replica replaces, removes or revokes a session.
    pub fn follow_invalidations(&self) -> tokio::task::JoinHandle<()> {
        let cache = self.cache.clone();
        let local = self.local.clone();
        tokio::spawn(async move {
            let mut changes = match cache.invalidations().await {
                Ok(stream) => stream,
                Err(err) => {
                    tracing::error!(error = %err, "cannot follow session invalidations");
                    return;
                }
            };
            while let Some(change) = changes.next().await {
                match change {
                    Invalidation::Key(key) => local.forget(&key),
                    Invalidation::All => local.forget_all(),
                }
            }
        })
    }

    /// Logs in. A refusal is `Ok(LoginVerdict::Refused)`.
    ///
    /// # Errors
    /// [`AuthError`] when NoETL cannot be reached or the playbook never calls back (the
    /// abandoned execution is then cancelled).
    pub async fn login(&self, request: LoginRequest) -> Result<LoginVerdict, AuthError> {
        if self.settings.mode == AuthMode::Direct {
            let slot = self.backend_slot()?;
            let verdict = self.runner.login(&request).await?;
            drop(slot);
            if let LoginVerdict::Authenticated(success) = &verdict {
                self.remember(&success.session_token, &success.session)
                    .await;
            }
            return Ok(verdict);
        }
        let mut vars = Map::new();
        vars.insert("auth0_token".into(), json!(request.auth0_token.expose()));
        if let Some(refresh) = &request.auth0_refresh_token {
            vars.insert("auth0_refresh_token".into(), json!(refresh.expose()));
        }
        let optional = [
            ("auth0_domain", request.auth0_domain.map(Value::from)),
            (
                "session_duration_hours",
                request.session_duration_hours.map(Value::from),
            ),
            ("client_ip", request.client_ip.map(Value::from)),
            (
                "client_user_agent",
                request.client_user_agent.map(Value::from),
            ),
        ];
        vars.extend(
            optional
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_owned(), v?))),
        );
        let playbook = self.settings.login_playbook.clone();
        let mut pending = self.start_playbook(&playbook, vars, "login").await?;
        loop {
            let incoming = pending.next(self).await?;
            match LoginVerdict::from_data(incoming.reply.success, &incoming.reply.data) {
                LoginVerdict::Authenticated(success) => match self.confirm(&success).await {
                    Confirmation::Confirmed(session) => {
                        let _ = incoming.verdict.send(true);
                        self.remember(&success.session_token, &session).await;
                        return Ok(LoginVerdict::Authenticated(success));
                    }
                    Confirmation::Denied => {
                        tracing::warn!(
                            "refused a login callback whose session NoETL does not know"
                        );
                        let _ = incoming.verdict.send(false);
                    }
                    Confirmation::Unconfirmable => {
                        // Answer the user, but cache nothing NoETL has not confirmed.
                        let _ = incoming.verdict.send(true);
                        return Ok(LoginVerdict::Authenticated(success));
                    }
                },
                refused => {
                    let _ = incoming.verdict.send(true);
                    return Ok(refused);
                }
            }
        }
    }

    /// Answers who holds `token`: `None` when the session is unknown, inactive, expired or
    /// logged out.
    ///
    /// # Errors
    /// [`AuthError`] when the token is in no cache and NoETL cannot answer.
    pub async fn resolve(&self, token: &SessionToken) -> Result<Option<Arc<Session>>, AuthError> {
        self.resolve_through_levels(token).await
    }

    /// Checks whether a session may use a playbook; an error answer means not allowed.
    ///
    /// # Errors
    /// [`AuthError`] when NoETL cannot answer.
    pub async fn check_access(&self, query: AccessQuery) -> Result<AccessDecision, AuthError> {
        if self.settings.mode == AuthMode::Direct {
            let _slot = self.backend_slot()?;
            return Ok(self.runner.check_access(&query).await?);
        }
        let mut vars = Map::new();
        vars.insert("session_token".into(), json!(query.session_token.expose()));
        vars.insert("playbook_path".into(), json!(query.playbook_path.as_str()));
        vars.insert("action".into(), json!(query.permission.as_str()));
        vars.insert("permission_type".into(), json!(query.permission.as_str()));
        let playbook = self.settings.check_access_playbook.clone();
        let mut pending = self.start_playbook(&playbook, vars, "check-access").await?;
        let incoming = pending.next(self).await?;
        let _ = incoming.verdict.send(true);
        Ok(AccessDecision::from_data(
            incoming.reply.success,
            &incoming.reply.data,
        ))
    }

    /// Ends a session on every replica. Succeeds whether or not the session existed; when
    /// the shared cache is away the logout holds on this replica only (logged).
    pub async fn logout(&self, token: &SessionToken) {
        let key = token.key();
        self.local.put_revoked(&key);
        if let Err(err) = self.cache.revoke(&key).await {
            tracing::warn!(error = %err, "logout recorded on this replica only: shared cache away");
        }
    }

    /// Hands a worker's auth callback to whichever replica waits for it.
    ///
    /// # Errors
    /// [`AuthError::Callbacks`] when the callback channel cannot be used.
    pub async fn deliver_callback(&self, reply: AuthReply) -> Result<ReplyOutcome, AuthError> {
        Ok(self.replies.deliver(reply).await?)
    }

    /// Stores the NoETL-confirmed session of a login in both levels (the shared one
    /// best-effort); a login outranks an earlier logout of the same token.
    async fn remember(&self, token: &SessionToken, session: &Session) {
        let (key, session) = (token.key(), Arc::new(session.clone()));
        self.local.put_issued(token, &key, &session);
        self.share(&key, &session).await;
    }

    /// Stores a session a lookup found, as `remember` does, except that a logout on this
    /// replica since the lookup began still holds.
    async fn remember_at(&self, token: &SessionToken, key: &SessionKey, session: &Arc<Session>) {
        self.local.put_valid(token, key, session);
        self.share(key, session).await;
    }

    async fn share(&self, key: &SessionKey, session: &Arc<Session>) {
        if let Err(err) = self.cache.put(key, session).await {
            tracing::debug!(error = %err, "session not shared: shared cache away");
        }
    }

    async fn confirm(&self, success: &LoginSuccess) -> Confirmation {
        match self.runner.validate_session(&success.session_token).await {
            Ok(Some(session)) if session.is_usable(time::OffsetDateTime::now_utc()) => {
                Confirmation::Confirmed(session)
            }
            Ok(_) => Confirmation::Denied,
            Err(err) => {
                tracing::info!(error = %err, "new session not confirmed with NoETL; not cached");
                Confirmation::Unconfirmable
            }
        }
    }

    /// How many auth operations wait on NoETL now (at most `max_pending`).
    pub fn waiting_on_backend(&self) -> usize {
        self.backend_slots.taken()
    }

    /// A place among the operations waiting on NoETL, held until dropped; `Busy` when none
    /// is free (refused at once rather than queued).
    fn backend_slot(&self) -> Result<OwnedSemaphorePermit, AuthError> {
        self.backend_slots.take().ok_or_else(|| {
            self.metrics.auth_refused();
            AuthError::Busy
        })
    }

    async fn start_playbook(
        &self,
        playbook: &PlaybookPath,
        vars: Map<String, Value>,
        kind: &'static str,
    ) -> Result<Pending, AuthError> {
        Pending::start(
            self.backend_slot()?,
            &self.runner,
            &self.replies,
            &self.settings,
            playbook,
            vars,
            kind,
        )
        .await
    }
}

enum Confirmation {
    Confirmed(Session),
    Denied,
    Unconfirmable,
}
