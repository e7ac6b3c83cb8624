//! Adapters (memory): the pending-request store twin, with a TTL like the NATS bucket's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::{
    ClientId, ExecutionId, IdempotencyKey, IdempotentRecord, PendingRequest, RequestId, SessionKey,
};
use crate::ports::{RequestStore, RequestStoreError};

use super::ttl_map::TtlMap;

/// How long a lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Maps {
    requests: TtlMap<RequestId, PendingRequest>,
    idempotent: TtlMap<IdempotencyKey, IdempotentRecord>,
    owners: TtlMap<ClientId, SessionKey>,
    leases: TtlMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct InMemoryRequestStore {
    entries: Arc<Mutex<Maps>>,
}

impl InMemoryRequestStore {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: Arc::new(Mutex::new(Maps {
                requests: TtlMap::new(ttl),
                idempotent: TtlMap::new(ttl),
                owners: TtlMap::new(ttl),
                leases: TtlMap::new(LEASE_TTL),
            })),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Maps) -> T) -> T {
        f(&mut crate::sync::lock(&self.entries))
    }
}

impl RequestStore for InMemoryRequestStore {
    async fn put(&self, request: &PendingRequest) -> Result<(), RequestStoreError> {
        self.with(|m| {
            m.requests
                .insert(request.request_id.clone(), request.clone())
        });
        Ok(())
    }

    async fn get(&self, id: &RequestId) -> Result<Option<PendingRequest>, RequestStoreError> {
        Ok(self.with(|m| m.requests.get(id)))
    }

    async fn remove(&self, id: &RequestId) -> Result<(), RequestStoreError> {
        self.with(|m| m.requests.remove(id));
        Ok(())
    }

    async fn by_execution(
        &self,
        id: &ExecutionId,
    ) -> Result<Option<PendingRequest>, RequestStoreError> {
        Ok(self.with(|m| {
            m.requests
                .live_values()
                .find(|r| &r.execution_id == id)
                .cloned()
        }))
    }

    async fn pending_for_client(
        &self,
        client: &ClientId,
    ) -> Result<Vec<PendingRequest>, RequestStoreError> {
        let mut found: Vec<PendingRequest> = self.with(|m| {
            m.requests
                .live_values()
                .filter(|r| &r.client_id == client)
                .cloned()
                .collect()
        });
        found.sort_by(|a, b| {
            (a.created_at, a.request_id.as_str()).cmp(&(b.created_at, b.request_id.as_str()))
        });
        Ok(found)
    }

    async fn unfinished(&self) -> Result<Vec<PendingRequest>, RequestStoreError> {
        Ok(self.with(|m| {
            m.requests
                .live_values()
                .filter(|r| !r.completed)
                .cloned()
                .collect()
        }))
    }

    async fn lease(&self, name: &str, holder: &str) -> Result<bool, RequestStoreError> {
        Ok(self.with(|m| match m.leases.get(&name.to_owned()) {
            Some(current) if current != holder => false,
            _ => {
                m.leases.insert(name.to_owned(), holder.to_owned());
                true
            }
        }))
    }

    async fn claim_client(
        &self,
        client: &ClientId,
        owner: &SessionKey,
    ) -> Result<bool, RequestStoreError> {
        Ok(self.with(|m| match m.owners.get(client) {
            Some(holder) => &holder == owner,
            None => {
                m.owners.insert(client.clone(), owner.clone());
                true
            }
        }))
    }

    async fn idempotent_get(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotentRecord>, RequestStoreError> {
        Ok(self.with(|m| m.idempotent.get(key)))
    }

    async fn idempotent_put(
        &self,
        key: &IdempotencyKey,
        record: &IdempotentRecord,
    ) -> Result<IdempotentRecord, RequestStoreError> {
        Ok(self.with(|m| match m.idempotent.get(key) {
            Some(existing) => existing,
            None => {
                m.idempotent.insert(key.clone(), record.clone());
                record.clone()
            }
        }))
    }
}
