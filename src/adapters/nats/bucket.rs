//! Adapters (nats): a JetStream K/V bucket resolved lazily, so the gateway can start before
//! NATS does. Every operation fails fast while disconnected (the caller degrades), and the
//! handle is dropped after an error so a recreated bucket is found again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use tokio::sync::RwLock;

use super::NatsConnection;
use crate::ports::Cause;

/// Upper bound of one K/V operation; past it the caller treats NATS as away.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// Upper bound of finding or creating a bucket or stream: a replicated one needs its raft
/// group placed and a leader elected, which takes longer than an operation.
pub(crate) const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The bound of opening a bucket or stream: [`OPEN_TIMEOUT`] until it has been opened once,
/// then one operation's bound, since it exists and a reopen that waits on a stream without
/// a leader should be given up and tried again, not hold every other caller for seconds.
pub(crate) fn open_timeout(opened_before: &AtomicBool) -> Duration {
    if opened_before.load(Ordering::Relaxed) {
        OP_TIMEOUT
    } else {
        OPEN_TIMEOUT
    }
}

#[derive(Debug)]
pub(crate) struct LazyBucket {
    conn: NatsConnection,
    config: kv::Config,
    store: RwLock<Option<kv::Store>>,
    opened_before: AtomicBool,
}

/// Opens two buckets side by side (each may wait for a replicated stream to be placed), so
/// the pair takes as long as the slower one, not the two in a row.
pub(crate) async fn open_both(first: &LazyBucket, second: &LazyBucket) -> Result<(), Cause> {
    let (a, b) = tokio::join!(first.store(), second.store());
    a.and(b).map(|_| ())
}

impl LazyBucket {
    pub(crate) fn new(conn: NatsConnection, config: kv::Config) -> Self {
        Self {
            conn,
            config,
            store: RwLock::new(None),
            opened_before: AtomicBool::new(false),
        }
    }

    /// Changes each time the NATS connection is (re)established.
    pub(crate) fn connects(&self) -> tokio::sync::watch::Receiver<u64> {
        self.conn.connects()
    }

    /// The subject prefix of the bucket's keys: `$KV.<bucket>.`.
    pub(crate) fn key_prefix(&self) -> String {
        key_prefix(&self.config.bucket)
    }

    /// A plain subscription to every change published to the bucket (puts and deletes
    /// alike), carried by whichever server this replica is connected to; the client renews
    /// it after each reconnect.
    pub(crate) async fn subscribe(&self) -> Result<async_nats::Subscriber, Cause> {
        let subjects = format!("{}>", self.key_prefix());
        Ok(self.conn.client().subscribe(subjects).await?)
    }

    /// The bucket, created with this config when it does not exist yet.
    pub(crate) async fn store(&self) -> Result<kv::Store, Cause> {
        if !self.conn.is_connected() {
            return Err("NATS is not connected".into());
        }
        if let Some(store) = self.store.read().await.clone() {
            return Ok(store);
        }
        let mut slot = self.store.write().await;
        if let Some(store) = slot.clone() {
            return Ok(store);
        }
        let js = jetstream::new(self.conn.client().clone());
        let found = tokio::time::timeout(open_timeout(&self.opened_before), async {
            let bucket = self.config.bucket.clone();
            if let Ok(store) = js.get_key_value(bucket.clone()).await {
                return Ok(store);
            }
            // The bucket's stream is created directly: `create_key_value` first asks for
            // account info, which JetStream servers before 2.10 answer in a shape the client
            // cannot read. A replica that lost the creation race finds the bucket next.
            let created = js.create_stream(stream_config(&self.config)).await;
            match js.get_key_value(bucket).await {
                Ok(store) => Ok(store),
                Err(err) => Err(created.err().map_or_else(|| Cause::from(err), Cause::from)),
            }
        })
        .await
        .map_err(|_| Cause::from("timed out opening the K/V bucket"))??;
        self.opened_before.store(true, Ordering::Relaxed);
        *slot = Some(found.clone());
        Ok(found)
    }

    /// Runs one operation on the bucket within [`OP_TIMEOUT`].
    pub(crate) async fn run<T, E, F, Fut>(&self, op: F) -> Result<T, Cause>
    where
        F: FnOnce(kv::Store) -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
        E: Into<Cause>,
    {
        let store = self.store().await?;
        let outcome = match tokio::time::timeout(OP_TIMEOUT, op(store)).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => err.into(),
            Err(_) => Cause::from("K/V operation timed out"),
        };
        *self.store.write().await = None;
        Err(outcome)
    }
}

/// The stream behind a K/V bucket, as the K/V layer itself would define it.
fn stream_config(kv: &kv::Config) -> jetstream::stream::Config {
    let duplicate_window = if kv.max_age.is_zero() {
        Duration::from_secs(120)
    } else {
        kv.max_age.min(Duration::from_secs(120))
    };
    jetstream::stream::Config {
        name: format!("KV_{}", kv.bucket),
        subjects: vec![format!("{}>", key_prefix(&kv.bucket))],
        max_messages_per_subject: kv.history,
        max_age: kv.max_age,
        storage: kv.storage,
        num_replicas: kv.num_replicas,
        allow_rollup: true,
        deny_delete: true,
        // Reads go to the stream leader: a follower may not have applied a write yet, and a
        // session stored (or revoked) on one replica must read the same on every other.
        allow_direct: false,
        discard: jetstream::stream::DiscardPolicy::New,
        duplicate_window,
        ..Default::default()
    }
}

fn key_prefix(bucket: &str) -> String {
    format!("$KV.{bucket}.")
}

/// A K/V bucket config with the given name, TTL and replica count.
pub(crate) fn kv_config(bucket: &str, max_age: Duration, replicas: usize) -> kv::Config {
    kv::Config {
        bucket: bucket.to_owned(),
        history: 1,
        max_age,
        num_replicas: replicas.max(1),
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    }
}
