//! Adapters (nats): pending requests and idempotency records in the K/V bucket
//! `NATS_REQUEST_BUCKET` (TTL `NATS_REQUEST_TTL_SECS`). A request is written under
//! `req.<id>` and under `client.<client>.<id>` so one client's requests can be listed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::NatsConnection;
use super::bucket::{LazyBucket, kv_config, open_both};
use super::keys::token;
use super::listing::values_under;
use crate::domain::{
    ClientId, ExecutionId, IdempotencyKey, IdempotentRecord, PendingRequest, RequestId, SessionKey,
};
use crate::ports::{Cause, RequestStore, RequestStoreError};

/// How long a lease lasts without renewal.
const LEASE_TTL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct NatsRequestStore {
    conn: NatsConnection,
    bucket: Arc<LazyBucket>,
    leases: Arc<LazyBucket>,
}

fn request_key(id: &RequestId) -> String {
    format!("req.{}", token(id.as_str()))
}

fn execution_key(id: &ExecutionId) -> String {
    format!("exec.{}", token(id.as_str()))
}

fn client_prefix(client: &ClientId) -> String {
    format!("client.{}.", token(client.as_str()))
}

fn unavailable(cause: Cause) -> RequestStoreError {
    RequestStoreError::Unavailable(cause)
}

fn corrupt(err: serde_json::Error) -> RequestStoreError {
    RequestStoreError::Corrupt(Box::new(err))
}

impl NatsRequestStore {
    pub fn new(conn: NatsConnection, bucket: &str, ttl: Duration, replicas: usize) -> Self {
        Self {
            conn: conn.clone(),
            bucket: Arc::new(LazyBucket::new(
                conn.clone(),
                kv_config(bucket, ttl, replicas),
            )),
            leases: Arc::new(LazyBucket::new(
                conn,
                kv_config(&format!("{bucket}-leases"), LEASE_TTL, replicas),
            )),
        }
    }

    /// The connection the store lives on.
    pub fn connection(&self) -> &NatsConnection {
        &self.conn
    }

    /// Finds or creates both buckets now, so the first request does not wait for them.
    ///
    /// # Errors
    /// `Unavailable` when NATS is away or a bucket cannot be opened.
    pub async fn open(&self) -> Result<(), RequestStoreError> {
        open_both(&self.bucket, &self.leases)
            .await
            .map_err(unavailable)
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        key: String,
    ) -> Result<Option<T>, RequestStoreError> {
        let raw = self
            .bucket
            .run(|s| async move { s.get(key).await })
            .await
            .map_err(unavailable)?;
        raw.map(|bytes| serde_json::from_slice(&bytes).map_err(corrupt))
            .transpose()
    }

    async fn write(&self, key: String, value: Vec<u8>) -> Result<(), RequestStoreError> {
        self.bucket
            .run(|s| async move { s.put(key, Bytes::from(value)).await })
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn delete(&self, key: String) -> Result<(), RequestStoreError> {
        self.bucket
            .run(|s| async move { s.delete(key).await })
            .await
            .map_err(unavailable)
    }

    /// Every request stored under keys starting with `prefix` (ending in `.`), oldest first.
    async fn scan(&self, prefix: String) -> Result<Vec<PendingRequest>, RequestStoreError> {
        let conn = self.conn.clone();
        let values = self
            .bucket
            .run(|s| async move { values_under(&conn, &s, &prefix).await })
            .await
            .map_err(unavailable)?;
        let mut found = values
            .iter()
            .map(|v| serde_json::from_slice::<PendingRequest>(v).map_err(corrupt))
            .collect::<Result<Vec<_>, _>>()?;
        found.sort_by(|a, b| {
            (a.created_at, a.request_id.as_str()).cmp(&(b.created_at, b.request_id.as_str()))
        });
        Ok(found)
    }
}

impl RequestStore for NatsRequestStore {
    #[tracing::instrument(name = "nats requests put", skip_all)]
    async fn put(&self, request: &PendingRequest) -> Result<(), RequestStoreError> {
        let value = serde_json::to_vec(request).map_err(corrupt)?;
        let by_client = format!(
            "{}{}",
            client_prefix(&request.client_id),
            token(request.request_id.as_str())
        );
        self.write(by_client, value.clone()).await?;
        self.write(execution_key(&request.execution_id), value.clone())
            .await?;
        self.write(request_key(&request.request_id), value).await
    }

    #[tracing::instrument(name = "nats requests get", skip_all)]
    async fn get(&self, id: &RequestId) -> Result<Option<PendingRequest>, RequestStoreError> {
        self.read(request_key(id)).await
    }

    #[tracing::instrument(name = "nats requests remove", skip_all)]
    async fn remove(&self, id: &RequestId) -> Result<(), RequestStoreError> {
        if let Some(found) = self.get(id).await? {
            let by_client = format!("{}{}", client_prefix(&found.client_id), token(id.as_str()));
            self.delete(by_client).await?;
            self.delete(execution_key(&found.execution_id)).await?;
        }
        self.delete(request_key(id)).await
    }

    #[tracing::instrument(name = "nats requests by_execution", skip_all)]
    async fn by_execution(
        &self,
        id: &ExecutionId,
    ) -> Result<Option<PendingRequest>, RequestStoreError> {
        self.read(execution_key(id)).await
    }

    #[tracing::instrument(name = "nats requests pending_for_client", skip_all)]
    async fn pending_for_client(
        &self,
        client: &ClientId,
    ) -> Result<Vec<PendingRequest>, RequestStoreError> {
        self.scan(client_prefix(client)).await
    }

    #[tracing::instrument(name = "nats requests unfinished", skip_all)]
    async fn unfinished(&self) -> Result<Vec<PendingRequest>, RequestStoreError> {
        Ok(self
            .scan("req.".to_owned())
            .await?
            .into_iter()
            .filter(|r| !r.completed)
            .collect())
    }

    #[tracing::instrument(name = "nats requests lease", skip_all)]
    async fn lease(&self, name: &str, holder: &str) -> Result<bool, RequestStoreError> {
        let key = format!("lease.{}", token(name));
        let value = Bytes::from(holder.to_owned());
        let (k, v) = (key.clone(), value.clone());
        if self
            .leases
            .run(|s| async move { s.create(k, v).await })
            .await
            .is_ok()
        {
            return Ok(true);
        }
        let k = key.clone();
        let current = self
            .leases
            .run(|s| async move { s.get(k).await })
            .await
            .map_err(unavailable)?;
        if current.as_deref() != Some(holder.as_bytes()) {
            return Ok(false);
        }
        // Ours: renew it.
        self.leases
            .run(|s| async move { s.put(key, value).await })
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    #[tracing::instrument(name = "nats requests claim_client", skip_all)]
    async fn claim_client(
        &self,
        client: &ClientId,
        owner: &SessionKey,
    ) -> Result<bool, RequestStoreError> {
        let key = format!("owner.{}", token(client.as_str()));
        let value = Bytes::from(owner.as_str().to_owned());
        let k = key.clone();
        if self
            .bucket
            .run(|s| async move { s.create(k, value).await })
            .await
            .is_ok()
        {
            return Ok(true);
        }
        let raw = self
            .bucket
            .run(|s| async move { s.get(key).await })
            .await
            .map_err(unavailable)?;
        Ok(raw.is_some_and(|holder| holder.as_ref() == owner.as_str().as_bytes()))
    }

    #[tracing::instrument(name = "nats requests idempotent_get", skip_all)]
    async fn idempotent_get(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotentRecord>, RequestStoreError> {
        self.read(format!("idem.{}", token(key.as_str()))).await
    }

    #[tracing::instrument(name = "nats requests idempotent_put", skip_all)]
    async fn idempotent_put(
        &self,
        key: &IdempotencyKey,
        record: &IdempotentRecord,
    ) -> Result<IdempotentRecord, RequestStoreError> {
        let k = format!("idem.{}", token(key.as_str()));
        let value = Bytes::from(serde_json::to_vec(record).map_err(corrupt)?);
        let k2 = k.clone();
        let created = self
            .bucket
            .run(|s| async move { s.create(k2, value).await })
            .await;
        match created {
            Ok(_) => Ok(record.clone()),
            // Someone else holds the key: theirs wins.
            Err(_) => self
                .read(k)
                .await?
                .ok_or_else(|| unavailable("idempotency record vanished".into())),
        }
    }
}
