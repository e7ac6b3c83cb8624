//! App (auth): session resolution. Local level, then the shared cache, then NoETL (its
//! session route, or the validate playbook when configured), with single-flight so one token
//! causes at most one backend lookup at a time on this replica.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use serde_json::{Map, json};
use time::OffsetDateTime;

use super::{AuthError, AuthMode, AuthService, Local};
use crate::app::metrics::{LookupOutcome, SessionLevel};
use crate::domain::{ExpiresAt, Session, SessionKey, SessionToken, User};
use crate::ports::{CacheLookup, PlaybookRunner, ReplyBus, SessionCache};

type Lookup = Shared<BoxFuture<'static, Result<Option<Arc<Session>>, AuthError>>>;

/// Lookups in progress, by session key.
#[derive(Debug, Clone, Default)]
pub(super) struct Flights(Arc<Mutex<HashMap<SessionKey, Lookup>>>);

impl Flights {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<SessionKey, Lookup>) -> T) -> T {
        f(&mut crate::sync::lock(&self.0))
    }
}

impl<R: PlaybookRunner, C: SessionCache, Y: ReplyBus> AuthService<R, C, Y> {
    /// Local level, then one shared lookup per key at a time.
    pub(super) async fn resolve_through_levels(
        &self,
        token: &SessionToken,
    ) -> Result<Option<Arc<Session>>, AuthError> {
        if let Some(session) = self.local.get_by_token(token) {
            self.metrics
                .session_lookup(SessionLevel::Local, LookupOutcome::Hit);
            return Ok(Some(session));
        }
        let key = token.key();
        match self.local.get(&key) {
            Local::Valid(session) => {
                self.metrics
                    .session_lookup(SessionLevel::Local, LookupOutcome::Hit);
                return Ok(Some(session));
            }
            Local::Invalid => {
                self.metrics
                    .session_lookup(SessionLevel::Local, LookupOutcome::Invalid);
                return Ok(None);
            }
            Local::Miss => self
                .metrics
                .session_lookup(SessionLevel::Local, LookupOutcome::Miss),
        }
        let flight = self.flights.with(|flights| {
            flights
                .entry(key.clone())
                .or_insert_with(|| {
                    let service = self.clone();
                    let (token, key) = (token.clone(), key.clone());
                    async move { service.lookup(&token, &key).await }
                        .boxed()
                        .shared()
                })
                .clone()
        });
        let result = flight.clone().await;
        self.flights.with(|flights| {
            if flights.get(&key).is_some_and(|f| f.ptr_eq(&flight)) {
                flights.remove(&key);
            }
        });
        result
    }

    /// The shared cache, then NoETL; fills the levels with what it learns.
    async fn lookup(
        &self,
        token: &SessionToken,
        key: &SessionKey,
    ) -> Result<Option<Arc<Session>>, AuthError> {
        let now = OffsetDateTime::now_utc();
        let shared = |outcome| self.metrics.session_lookup(SessionLevel::Shared, outcome);
        match self.cache.get(key).await {
            Ok(CacheLookup::Hit(session)) if session.is_usable(now) => {
                shared(LookupOutcome::Hit);
                let session = Arc::new(session);
                self.local.put_valid(token, key, &session);
                return Ok(Some(session));
            }
            Ok(CacheLookup::Revoked) => {
                shared(LookupOutcome::Invalid);
                self.local.put_revoked(key);
                return Ok(None);
            }
            Ok(_) => shared(LookupOutcome::Miss),
            Err(err) => {
                shared(LookupOutcome::Error);
                tracing::debug!(error = %err, "shared session cache away; asking NoETL");
            }
        }
        let backend = |outcome| self.metrics.session_lookup(SessionLevel::Backend, outcome);
        let found = match (&self.settings.validate_playbook, self.settings.mode) {
            (Some(playbook), AuthMode::Playbook) => {
                self.validate_by_playbook(token, playbook.clone()).await
            }
            _ => self.validate_directly(token).await,
        }
        .inspect_err(|_| backend(LookupOutcome::Error))?;
        match found.filter(|s| s.is_usable(now)) {
            Some(session) => {
                backend(LookupOutcome::Hit);
                let session = Arc::new(session);
                self.remember_at(token, key, &session).await;
                Ok(Some(session))
            }
            None => {
                backend(LookupOutcome::Invalid);
                self.local.put_unknown(key);
                Ok(None)
            }
        }
    }

    /// NoETL's synchronous session route, within the bound on operations waiting on NoETL.
    async fn validate_directly(&self, token: &SessionToken) -> Result<Option<Session>, AuthError> {
        let _slot = self.backend_slot()?;
        Ok(self.runner.validate_session(token).await?)
    }

    async fn validate_by_playbook(
        &self,
        token: &SessionToken,
        playbook: crate::domain::PlaybookPath,
    ) -> Result<Option<Session>, AuthError> {
        let mut vars = Map::new();
        vars.insert("session_token".into(), json!(token.expose()));
        let mut pending = self
            .start_playbook(&playbook, vars, "validate-session")
            .await?;
        let incoming = pending.next(self).await?;
        let _ = incoming.verdict.send(true);
        let data = &incoming.reply.data;
        let valid = incoming.reply.success
            && data.get("valid").and_then(serde_json::Value::as_bool) == Some(true);
        let user = data
            .get("user")
            .and_then(|u| serde_json::from_value::<User>(u.clone()).ok());
        let expires_at = data
            .get("expires_at")
            .and_then(serde_json::Value::as_str)
            .and_then(|e| ExpiresAt::parse(e).ok());
        Ok(match (valid, user) {
            (true, Some(user)) => Some(Session {
                user,
                expires_at,
                is_active: true,
            }),
            _ => None,
        })
    }
}
