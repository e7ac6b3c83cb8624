//! Adapters (nats): the shared session cache on JetStream K/V. Sessions live in
//! `NATS_SESSION_BUCKET` (TTL `NATS_SESSION_CACHE_TTL_SECS`) keyed by the token's SHA-256;
//! revocations live in `<bucket>-revoked` for longer than any session. Values carry no token.
//! Changes are followed twice: by a watch of each bucket and by a plain subscription to its
//! subjects, so that losing the node of either path does not delay an invalidation.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::Operation;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::NatsConnection;
use super::bucket::{LazyBucket, OP_TIMEOUT, kv_config, open_both};
use crate::domain::{ExpiresAt, Roles, Session, SessionKey, User, UserId};
use crate::ports::{
    CacheLookup, Invalidation, InvalidationStream, SessionCache, SessionCacheError,
};

/// The stored value (CONTRACT section 9): the session without its token.
#[derive(Debug, Serialize, Deserialize)]
struct SessionRecord {
    user_id: UserId,
    email: String,
    display_name: String,
    expires_at: Option<ExpiresAt>,
    is_active: bool,
    roles: Roles,
}

impl From<&Session> for SessionRecord {
    fn from(s: &Session) -> Self {
        Self {
            user_id: s.user.user_id,
            email: s.user.email.clone(),
            display_name: s.user.display_name.clone(),
            expires_at: s.expires_at.clone(),
            is_active: s.is_active,
            roles: s.user.roles.clone(),
        }
    }
}

impl From<SessionRecord> for Session {
    fn from(r: SessionRecord) -> Self {
        Self {
            user: User {
                user_id: r.user_id,
                email: r.email,
                display_name: r.display_name,
                roles: r.roles,
            },
            expires_at: r.expires_at,
            is_active: r.is_active,
        }
    }
}

/// How long a follower waits before asking for a watch again after NATS refused one.
const REWATCH_PAUSE: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct NatsSessionCache {
    sessions: Arc<LazyBucket>,
    revoked: Arc<LazyBucket>,
}

impl NatsSessionCache {
    pub fn new(
        conn: NatsConnection,
        bucket: &str,
        ttl: Duration,
        revocation_ttl: Duration,
        replicas: usize,
    ) -> Self {
        Self {
            sessions: Arc::new(LazyBucket::new(
                conn.clone(),
                kv_config(bucket, ttl, replicas),
            )),
            revoked: Arc::new(LazyBucket::new(
                conn,
                kv_config(&format!("{bucket}-revoked"), revocation_ttl, replicas),
            )),
        }
    }
}

impl NatsSessionCache {
    /// Finds or creates both buckets now, so the first lookup does not wait for them.
    ///
    /// # Errors
    /// `Unavailable` when NATS is away or a bucket cannot be opened.
    pub async fn open(&self) -> Result<(), SessionCacheError> {
        open_both(&self.sessions, &self.revoked)
            .await
            .map_err(unavailable)
    }
}

fn unavailable(cause: crate::ports::Cause) -> SessionCacheError {
    SessionCacheError::Unavailable(cause)
}

impl SessionCache for NatsSessionCache {
    #[tracing::instrument(name = "nats sessions get", skip_all)]
    async fn get(&self, key: &SessionKey) -> Result<CacheLookup, SessionCacheError> {
        let k = key.as_str().to_owned();
        let (revoked, entry) = tokio::join!(
            self.revoked.run(|s| {
                let k = k.clone();
                async move { s.get(k).await }
            }),
            self.sessions.run(|s| {
                let k = k.clone();
                async move { s.get(k).await }
            }),
        );
        if revoked.map_err(unavailable)?.is_some() {
            return Ok(CacheLookup::Revoked);
        }
        match entry.map_err(unavailable)? {
            None => Ok(CacheLookup::Miss),
            Some(bytes) => serde_json::from_slice::<SessionRecord>(&bytes)
                .map(|r| CacheLookup::Hit(r.into()))
                .map_err(|e| SessionCacheError::Corrupt(Box::new(e))),
        }
    }

    #[tracing::instrument(name = "nats sessions put", skip_all)]
    async fn put(&self, key: &SessionKey, session: &Session) -> Result<(), SessionCacheError> {
        let value = serde_json::to_vec(&SessionRecord::from(session))
            .map_err(|e| SessionCacheError::Corrupt(Box::new(e)))?;
        let k = key.as_str().to_owned();
        self.sessions
            .run(|s| async move { s.put(k, Bytes::from(value)).await })
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    #[tracing::instrument(name = "nats sessions remove", skip_all)]
    async fn remove(&self, key: &SessionKey) -> Result<(), SessionCacheError> {
        let k = key.as_str().to_owned();
        self.sessions
            .run(|s| async move { s.delete(k).await })
            .await
            .map_err(unavailable)
    }

    #[tracing::instrument(name = "nats sessions revoke", skip_all)]
    async fn revoke(&self, key: &SessionKey) -> Result<(), SessionCacheError> {
        let k = key.as_str().to_owned();
        let mark = k.clone();
        self.revoked
            .run(|s| async move { s.put(mark, Bytes::from_static(b"1")).await })
            .await
            .map_err(unavailable)?;
        // The revocation is what counts; a stale entry left behind still reads as revoked.
        if let Err(err) = self.remove(key).await {
            tracing::debug!(key = %k, error = %err, "revoked session entry not removed");
        }
        Ok(())
    }

    #[tracing::instrument(name = "nats sessions invalidations", skip_all)]
    async fn invalidations(&self) -> Result<InvalidationStream, SessionCacheError> {
        let (tx, rx) = mpsc::channel(1024);
        for bucket in [self.sessions.clone(), self.revoked.clone()] {
            tokio::spawn(hear(bucket.clone(), tx.clone()));
            tokio::spawn(follow(bucket, tx.clone()));
        }
        Ok(ReceiverStream::new(rx).boxed())
    }
}

/// Follows one bucket's changes for as long as anyone listens, re-watching after every loss
/// and after every reconnect (the watch's consumer may not have survived it, and the client
/// notices that late). Each re-watch first announces `All`: changes made while unwatched are
/// unknown.
async fn follow(bucket: Arc<LazyBucket>, tx: mpsc::Sender<Invalidation>) {
    let mut connects = bucket.connects();
    let mut gap = false;
    while !tx.is_closed() {
        connects.borrow_and_update();
        let Some(mut watch) = watch(&bucket).await else {
            gap = true;
            tokio::time::sleep(REWATCH_PAUSE).await;
            continue;
        };
        if gap && tx.send(Invalidation::All).await.is_err() {
            return;
        }
        gap = true;
        loop {
            let entry = tokio::select! {
                entry = watch.next() => entry,
                reconnected = connects.changed() => match reconnected {
                    Ok(()) => break,
                    Err(_) => return,
                },
            };
            let Some(Ok(entry)) = entry else { break };
            let relevant = matches!(
                entry.operation,
                Operation::Put | Operation::Delete | Operation::Purge
            );
            if let (true, Ok(key)) = (relevant, SessionKey::parse(&entry.key))
                && tx.send(Invalidation::Key(key)).await.is_err()
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Hears each change to one bucket as it is published, beside [`follow`]'s watch. In a
/// cluster, the watch's consumer lives on one node: when that node is lost while this replica
/// stays connected to another, the watch notices only after missed heartbeats (seconds).
/// A plain subscription is held by the node this replica is connected to and hears
/// publications made on any node, so a logout still reaches this replica at once.
async fn hear(bucket: Arc<LazyBucket>, tx: mpsc::Sender<Invalidation>) {
    let prefix = bucket.key_prefix();
    let mut subscriber = loop {
        match bucket.subscribe().await {
            Ok(subscriber) => break subscriber,
            Err(err) => tracing::debug!(error = %err, "session changes not subscribed yet"),
        }
        tokio::select! {
            () = tokio::time::sleep(REWATCH_PAUSE) => {}
            () = tx.closed() => return,
        }
    };
    loop {
        let message = tokio::select! {
            message = subscriber.next() => message,
            () = tx.closed() => return,
        };
        // The stream ends only when the client itself is closed.
        let Some(message) = message else { return };
        let key = message
            .subject
            .strip_prefix(prefix.as_str())
            .map(SessionKey::parse);
        if let Some(Ok(key)) = key
            && tx.send(Invalidation::Key(key)).await.is_err()
        {
            return;
        }
    }
}

/// A new watch of every key's changes from now on, or `None` when NATS does not give one
/// within an operation's bound.
async fn watch(bucket: &LazyBucket) -> Option<async_nats::jetstream::kv::Watch> {
    let store = bucket.store().await.ok()?;
    match tokio::time::timeout(OP_TIMEOUT, store.watch_all()).await {
        Ok(Ok(watch)) => Some(watch),
        Ok(Err(err)) => {
            tracing::debug!(error = %err, "session invalidations not watched yet");
            None
        }
        Err(_) => None,
    }
}
