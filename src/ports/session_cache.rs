//! Port: the shared session cache, keyed by the token's one-way key, with invalidation events.

use std::future::Future;

use futures_util::stream::BoxStream;

use crate::domain::{Session, SessionKey};

use super::Cause;

/// Keys whose cached session was removed or replaced, from any replica.
pub type InvalidationStream = BoxStream<'static, SessionKey>;

#[derive(Debug, thiserror::Error)]
pub enum SessionCacheError {
    #[error("session cache is unavailable")]
    Unavailable(#[source] Cause),
    #[error("session cache entry is corrupt")]
    Corrupt(#[source] Cause),
}

pub trait SessionCache: Clone + Send + Sync + 'static {
    /// Reads a session. Entries past their TTL are absent.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached; `Corrupt` when an entry cannot be read.
    fn get(
        &self,
        key: &SessionKey,
    ) -> impl Future<Output = Result<Option<Session>, SessionCacheError>> + Send;

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

    /// Follows removals and replacements made by any replica (this one included).
    ///
    /// # Errors
    /// `Unavailable` when the watch cannot be started.
    fn invalidations(
        &self,
    ) -> impl Future<Output = Result<InvalidationStream, SessionCacheError>> + Send;
}
