//! Port: pending requests (request id → the client and execution awaiting its callback).

use std::future::Future;

use crate::domain::{
    ClientId, ExecutionId, IdempotencyKey, IdempotentRecord, PendingRequest, RequestId, SessionKey,
};

use super::Cause;

#[derive(Debug, thiserror::Error)]
pub enum RequestStoreError {
    #[error("request store is unavailable")]
    Unavailable(#[source] Cause),
    #[error("request store entry is corrupt")]
    Corrupt(#[source] Cause),
}

pub trait RequestStore: Clone + Send + Sync + 'static {
    /// Stores a pending request for the store's TTL.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn put(
        &self,
        request: &PendingRequest,
    ) -> impl Future<Output = Result<(), RequestStoreError>> + Send;

    /// Reads a pending request.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached; `Corrupt` for an unreadable entry.
    fn get(
        &self,
        id: &RequestId,
    ) -> impl Future<Output = Result<Option<PendingRequest>, RequestStoreError>> + Send;

    /// Removes a pending request; removing an absent one succeeds.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn remove(&self, id: &RequestId) -> impl Future<Output = Result<(), RequestStoreError>> + Send;

    /// Finds the request that started an execution.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn by_execution(
        &self,
        id: &ExecutionId,
    ) -> impl Future<Output = Result<Option<PendingRequest>, RequestStoreError>> + Send;

    /// Lists the pending requests of one client, oldest first.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn pending_for_client(
        &self,
        client: &ClientId,
    ) -> impl Future<Output = Result<Vec<PendingRequest>, RequestStoreError>> + Send;

    /// Every request whose result has not been logged yet, across all clients.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn unfinished(
        &self,
    ) -> impl Future<Output = Result<Vec<PendingRequest>, RequestStoreError>> + Send;

    /// Takes or renews a short lease named `name` for `holder` (one replica at a time does
    /// the leased work). `true` while `holder` holds it; leases lapse after the store's lease
    /// TTL unless renewed.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn lease(
        &self,
        name: &str,
        holder: &str,
    ) -> impl Future<Output = Result<bool, RequestStoreError>> + Send;

    /// Binds a client id to the session that first used it. `true` when `owner` holds the
    /// binding (now or from before), `false` when another session does.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn claim_client(
        &self,
        client: &ClientId,
        owner: &SessionKey,
    ) -> impl Future<Output = Result<bool, RequestStoreError>> + Send;

    /// Reads the record stored under an idempotency key.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn idempotent_get(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<Option<IdempotentRecord>, RequestStoreError>> + Send;

    /// Stores `record` under `key` unless one is there; returns whichever record holds the key
    /// afterwards (the earlier one wins a race).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    fn idempotent_put(
        &self,
        key: &IdempotencyKey,
        record: &IdempotentRecord,
    ) -> impl Future<Output = Result<IdempotentRecord, RequestStoreError>> + Send;
}
