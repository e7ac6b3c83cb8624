//! Port: the shared session cache, keyed by the token's one-way key, with invalidation events.

use std::future::Future;

use futures_util::stream::BoxStream;

use crate::domain::{Session, SessionKey};

/// What the shared cache knows of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLookup {
    Hit(Session),
    /// Logged out: refuse, whatever the backend would say.
    Revoked,
    Miss,
}

use super::Cause;

/// A change to the shared cache made by any replica (this one included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// This key's session was written, removed or revoked.
    Key(SessionKey),
    /// Changes may have been missed (the watch was re-established): forget everything.
    All,
}

/// Changes to the shared cache, as they happen.
pub type InvalidationStream = BoxStream<'static, Invalidation>;

#[derive(Debug, thiserror::Error)]
pub enum SessionCacheError {
    #[error("session cache is unavailable")]
    Unavailable(#[source] Cause),
    #[error("session cache entry is corrupt")]
    Corrupt(#[source] Cause),
}

pub trait SessionCache: Clone + Send + Sync + 'static {
    /// Reads a session. Entries past their TTL are a miss; a revoked key is `Revoked` even
    /// when an entry was written after the revocation.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached; `Corrupt` when an entry cannot be read.
    fn get(
        &self,
        key: &SessionKey,
    ) -> impl Future<Output = Result<CacheLookup, SessionCacheError>> + Send;

    /// Stores a session for the store's TTL, replacing any earlier one.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn put(
        &self,
        key: &SessionKey,
        session: &Session,
    ) -> impl Future<Output = Result<(), SessionCacheError>> + Send;

    /// Removes a session; removing an absent key succeeds.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn remove(
        &self,
        key: &SessionKey,
    ) -> impl Future<Output = Result<(), SessionCacheError>> + Send;

    /// Removes the entry and remembers the key as revoked for the store's revocation TTL
    /// (longer than any session lives); announced like a removal.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached; the revocation was then not recorded.
    fn revoke(
        &self,
        key: &SessionKey,
    ) -> impl Future<Output = Result<(), SessionCacheError>> + Send;

    /// Follows removals and replacements made by any replica (this one included).
    ///
    /// # Errors
    /// `Unavailable` when the watch cannot be started.
    fn invalidations(
        &self,
    ) -> impl Future<Output = Result<InvalidationStream, SessionCacheError>> + Send;
}
