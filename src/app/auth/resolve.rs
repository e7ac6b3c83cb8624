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
use crate::domain::{ExpiresAt, Session, SessionKey, SessionToken, User};
use crate::ports::{CacheLookup, PlaybookRunner, ReplyBus, SessionCache};

type Lookup = Shared<BoxFuture<'static, Result<Option<Session>, AuthError>>>;

/// Lookups in progress, by session key.
#[derive(Debug, Clone, Default)]
pub(super) struct Flights(Arc<Mutex<HashMap<SessionKey, Lookup>>>);

impl Flights {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<SessionKey, Lookup>) -> T) -> T {
        f(&mut crate::sync::lock(&self.0))
    }
}

pub(super) async fn resolve<R, C, Y>(
    service: &AuthService<R, C, Y>,
    token: &SessionToken,
) -> Result<Option<Session>, AuthError>
where
    R: PlaybookRunner,
    C: SessionCache,
    Y: ReplyBus,
{
    let key = token.key();
    match service.local.get(&key) {
        Local::Valid(session) => return Ok(Some(session)),
        Local::Invalid => return Ok(None),
        Local::Miss => {}
    }
    let flight = service.flights.with(|flights| {
        flights
            .entry(key.clone())
            .or_insert_with(|| {
                let service = service.clone();
                let token = token.clone();
                async move { lookup(&service, &token).await }
                    .boxed()
                    .shared()
            })
            .clone()
    });
    let result = flight.clone().await;
    service.flights.with(|flights| {
        if flights.get(&key).is_some_and(|f| f.ptr_eq(&flight)) {
            flights.remove(&key);
        }
    });
    result
}

async fn lookup<R, C, Y>(
    service: &AuthService<R, C, Y>,
    token: &SessionToken,
) -> Result<Option<Session>, AuthError>
where
    R: PlaybookRunner,
    C: SessionCache,
    Y: ReplyBus,
{
    let key = token.key();
    let now = OffsetDateTime::now_utc();
    match service.cache.get(&key).await {
        Ok(CacheLookup::Hit(session)) if session.is_usable(now) => {
            service.local.put_valid(&key, &session);
            return Ok(Some(session));
        }
        Ok(CacheLookup::Revoked) => {
            service.local.put_revoked(&key);
            return Ok(None);
        }
        Ok(_) => {}
        Err(err) => tracing::debug!(error = %err, "shared session cache away; asking NoETL"),
    }
    let found = match (&service.settings.validate_playbook, service.settings.mode) {
        (Some(playbook), AuthMode::Playbook) => {
            validate_by_playbook(service, token, playbook.clone()).await?
        }
        _ => service.runner.validate_session(token).await?,
    };
    match found.filter(|s| s.is_usable(now)) {
        Some(session) => {
            service.remember(token, &session).await;
            Ok(Some(session))
        }
        None => {
            service.local.put_unknown(&key);
            Ok(None)
        }
    }
}

async fn validate_by_playbook<R, C, Y>(
    service: &AuthService<R, C, Y>,
    token: &SessionToken,
    playbook: crate::domain::PlaybookPath,
) -> Result<Option<Session>, AuthError>
where
    R: PlaybookRunner,
    C: SessionCache,
    Y: ReplyBus,
{
    let mut vars = Map::new();
    vars.insert("session_token".into(), json!(token.expose()));
    let mut pending = service
        .start_playbook(&playbook, vars, "validate-session")
        .await?;
    let incoming = pending.next(service).await?;
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
