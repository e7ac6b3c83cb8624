//! App: the adapter choices made at run time. Each enum implements its port by static
//! dispatch (no `Arc<dyn>`), so configuration can pick memory or NATS, NoETL or its twin.

use serde_json::Value;

use super::patience::{Patience, Retries};
use crate::adapters::memory::{
    InMemoryBus, InMemoryEventLog, InMemoryPlaybookRunner, InMemoryReplyBus, InMemoryRequestStore,
    InMemorySessionCache,
};
use crate::adapters::nats::{
    NatsConnection, NatsEventLog, NatsReplyBus, NatsRequestStore, NatsSessionCache, RECONNECT_GRACE,
};
use crate::adapters::noetl::NoetlClient;
use crate::domain::{
    AccessDecision, AccessQuery, AuthReply, ClientEvent, ClientId, EventCursor, ExecutionDetail,
    ExecutionId, ExecutionStatus, IdempotencyKey, IdempotentRecord, LoginRequest, LoginVerdict,
    PendingRequest, PlaybookPath, RequestId, Session, SessionKey, SessionToken,
};
use crate::ports::{
    BusMonitor, BusState, CacheLookup, EventLog, EventLogError, EventStream, InvalidationStream,
    PlaybookRunner, ReplyBus, ReplyBusError, ReplyOutcome, ReplyStream, RequestStore,
    RequestStoreError, RunnerError, SessionCache, SessionCacheError,
};

/// The workflow engine: NoETL over REST, or the in-memory twin.
#[derive(Debug, Clone)]
pub enum RunnerAdapter {
    Noetl(NoetlClient),
    Memory(InMemoryPlaybookRunner),
}

/// Forwards a port call to whichever variant is present.
macro_rules! dispatch {
    ($self:ident, $inner:ident => $call:expr) => {
        dispatch!($self, Noetl, Memory, $inner => $call)
    };
    ($self:ident, $a:ident, $b:ident, $inner:ident => $call:expr) => {
        match $self {
            Self::$a($inner) => $call.await,
            Self::$b($inner) => $call.await,
        }
    };
}

impl PlaybookRunner for RunnerAdapter {
    async fn start(&self, path: &PlaybookPath, payload: Value) -> Result<ExecutionId, RunnerError> {
        dispatch!(self, r => r.start(path, payload))
    }

    async fn status(&self, id: &ExecutionId) -> Result<ExecutionStatus, RunnerError> {
        dispatch!(self, r => r.status(id))
    }

    async fn cancel(&self, id: &ExecutionId, reason: &str) -> Result<(), RunnerError> {
        dispatch!(self, r => r.cancel(id, reason))
    }

    async fn detail(&self, id: &ExecutionId) -> Result<ExecutionDetail, RunnerError> {
        dispatch!(self, r => r.detail(id))
    }

    async fn list(&self, limit: u32, offset: u32) -> Result<Vec<ExecutionStatus>, RunnerError> {
        dispatch!(self, r => r.list(limit, offset))
    }

    async fn rerun(&self, id: &ExecutionId, variables: Value) -> Result<ExecutionId, RunnerError> {
        dispatch!(self, r => r.rerun(id, variables))
    }

    async fn validate_session(&self, token: &SessionToken) -> Result<Option<Session>, RunnerError> {
        dispatch!(self, r => r.validate_session(token))
    }

    async fn login(&self, request: &LoginRequest) -> Result<LoginVerdict, RunnerError> {
        dispatch!(self, r => r.login(request))
    }

    async fn check_access(&self, query: &AccessQuery) -> Result<AccessDecision, RunnerError> {
        dispatch!(self, r => r.check_access(query))
    }

    async fn health(&self) -> Result<(), RunnerError> {
        dispatch!(self, r => r.health())
    }
}

/// Where shared state lives: this process only, or NATS.
#[derive(Debug, Clone)]
pub enum BusAdapter {
    Memory(InMemoryBus),
    Nats(NatsConnection),
}

impl BusMonitor for BusAdapter {
    fn state(&self) -> BusState {
        match self {
            Self::Memory(b) => b.state(),
            Self::Nats(b) => b.state(),
        }
    }
}

/// The shared session cache: in memory (single replica) or NATS K/V.
#[derive(Debug, Clone)]
pub enum SessionCacheAdapter {
    Memory(InMemorySessionCache),
    Nats(NatsSessionCache),
}

impl SessionCache for SessionCacheAdapter {
    async fn get(&self, key: &SessionKey) -> Result<CacheLookup, SessionCacheError> {
        dispatch!(self, Memory, Nats, c => c.get(key))
    }

    async fn put(&self, key: &SessionKey, session: &Session) -> Result<(), SessionCacheError> {
        dispatch!(self, Memory, Nats, c => c.put(key, session))
    }

    async fn remove(&self, key: &SessionKey) -> Result<(), SessionCacheError> {
        dispatch!(self, Memory, Nats, c => c.remove(key))
    }

    async fn revoke(&self, key: &SessionKey) -> Result<(), SessionCacheError> {
        dispatch!(self, Memory, Nats, c => c.revoke(key))
    }

    async fn invalidations(&self) -> Result<InvalidationStream, SessionCacheError> {
        dispatch!(self, Memory, Nats, c => c.invalidations())
    }
}

/// The auth reply bus: this process only, or across replicas over NATS.
#[derive(Debug, Clone)]
pub enum ReplyBusAdapter {
    Memory(InMemoryReplyBus),
    Nats(NatsReplyBus),
}

impl ReplyBus for ReplyBusAdapter {
    async fn subscribe(&self, request: &RequestId) -> Result<ReplyStream, ReplyBusError> {
        dispatch!(self, Memory, Nats, b => b.subscribe(request))
    }

    async fn deliver(&self, reply: AuthReply) -> Result<ReplyOutcome, ReplyBusError> {
        dispatch!(self, Memory, Nats, b => b.deliver(reply))
    }
}

/// Pending requests: in memory, or NATS K/V with this process's memory as the fallback while
/// NATS is away (single-replica semantics until it returns).
#[derive(Debug, Clone)]
pub enum RequestStoreAdapter {
    Memory(InMemoryRequestStore),
    Nats {
        nats: NatsRequestStore,
        local: InMemoryRequestStore,
        patience: Patience,
    },
}

/// What the shared store made of an operation: its answer (possibly an error that stands),
/// or NATS is away, with the last error.
enum Shared<T, E> {
    Answered(Result<T, E>),
    Away(E),
}

/// Runs `call` on the shared store. On `Unavailable`: while NATS is connected (or reconnects
/// within the grace period) the shared store stays the truth, so the call is retried there,
/// with pauses, each retry bounded, for as long as [`Patience`] allows (a stream's leader is
/// re-elected within that after a node of the cluster is lost); then the last error stands
/// (the caller answers 503 and the worker retries). NATS away is left to the caller.
async fn on_shared_store<T, E, Fut>(
    conn: &NatsConnection,
    patience: &Patience,
    mut call: impl FnMut() -> Fut,
) -> Shared<T, E>
where
    E: Unavailable + std::fmt::Display,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = tokio::time::Instant::now();
    let mut last = match call().await {
        Err(err) if err.unavailable() => err,
        answer => {
            patience.reset();
            return Shared::Answered(answer);
        }
    };
    let mut retries = patience.retries(started);
    loop {
        if !conn.wait_connected(RECONNECT_GRACE).await {
            tracing::debug!(error = %last, "NATS away: using this process's store");
            patience.reset();
            return Shared::Away(last);
        }
        match tokio::time::timeout_at(Retries::cutoff(), call()).await {
            Ok(Err(err)) if err.unavailable() => {
                tracing::debug!(error = %err, "shared store unavailable; retrying");
                last = err;
            }
            // This try hung (a leaderless stream): give it up, try again.
            Err(_) => {}
            Ok(answer) => {
                patience.reset();
                return Shared::Answered(answer);
            }
        }
        if !retries.pause().await {
            return Shared::Answered(Err(last));
        }
    }
}

/// Runs a port call on the shared store ([`on_shared_store`]); only when NATS is away does
/// this process's memory stand in (degraded, single-replica semantics). The optional last
/// argument shapes memory's answer from the NATS error and that answer.
macro_rules! with_fallback {
    ($self:ident, $s:ident => $call:expr) => {
        with_fallback!($self, $s => $call, |_err, found| found)
    };
    ($self:ident, $s:ident => $call:expr, |$err:ident, $found:ident| $from_memory:expr) => {
        match $self {
            Self::Memory($s) => $call.await,
            Self::Nats { nats, local, patience } => {
                let shared = on_shared_store(nats.connection(), patience, || {
                    let $s = nats;
                    $call
                });
                match shared.await {
                    Shared::Answered(answer) => answer,
                    Shared::Away($err) => {
                        let $s = local;
                        let $found = $call.await;
                        $from_memory
                    }
                }
            }
        }
    };
}

/// A lookup's answer from memory while NATS is away: memory answers only with what it has;
/// "not here" is not "nowhere", so the NATS error stands then.
macro_rules! lookup_with_fallback {
    ($self:ident, $s:ident => $call:expr) => {
        with_fallback!($self, $s => $call, |err, found| match found {
            Ok(None) => Err(err),
            found => found,
        })
    };
}

trait Unavailable {
    fn unavailable(&self) -> bool;
}

impl Unavailable for RequestStoreError {
    fn unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl Unavailable for EventLogError {
    fn unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl RequestStore for RequestStoreAdapter {
    async fn put(&self, request: &PendingRequest) -> Result<(), RequestStoreError> {
        with_fallback!(self, s => s.put(request))
    }

    async fn get(&self, id: &RequestId) -> Result<Option<PendingRequest>, RequestStoreError> {
        lookup_with_fallback!(self, s => s.get(id))
    }

    async fn remove(&self, id: &RequestId) -> Result<(), RequestStoreError> {
        with_fallback!(self, s => s.remove(id))
    }

    async fn by_execution(
        &self,
        id: &ExecutionId,
    ) -> Result<Option<PendingRequest>, RequestStoreError> {
        lookup_with_fallback!(self, s => s.by_execution(id))
    }

    async fn pending_for_client(
        &self,
        client: &ClientId,
    ) -> Result<Vec<PendingRequest>, RequestStoreError> {
        with_fallback!(self, s => s.pending_for_client(client))
    }

    async fn unfinished(&self) -> Result<Vec<PendingRequest>, RequestStoreError> {
        with_fallback!(self, s => s.unfinished())
    }

    async fn lease(&self, name: &str, holder: &str) -> Result<bool, RequestStoreError> {
        with_fallback!(self, s => s.lease(name, holder))
    }

    async fn claim_client(
        &self,
        client: &ClientId,
        owner: &SessionKey,
    ) -> Result<bool, RequestStoreError> {
        with_fallback!(self, s => s.claim_client(client, owner))
    }

    async fn idempotent_get(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotentRecord>, RequestStoreError> {
        with_fallback!(self, s => s.idempotent_get(key))
    }

    async fn idempotent_put(
        &self,
        key: &IdempotencyKey,
        record: &IdempotentRecord,
    ) -> Result<IdempotentRecord, RequestStoreError> {
        with_fallback!(self, s => s.idempotent_put(key, record))
    }
}

/// The per-client event log: in memory, or JetStream with this process's memory as the
/// fallback while NATS is away.
#[derive(Debug, Clone)]
pub enum EventLogAdapter {
    Memory(InMemoryEventLog),
    Nats {
        nats: NatsEventLog,
        local: InMemoryEventLog,
        patience: Patience,
    },
}

impl EventLog for EventLogAdapter {
    async fn append(
        &self,
        client: &ClientId,
        event: &ClientEvent,
    ) -> Result<EventCursor, EventLogError> {
        with_fallback!(self, s => s.append(client, event))
    }

    async fn follow(
        &self,
        client: &ClientId,
        after: Option<EventCursor>,
    ) -> Result<EventStream, EventLogError> {
        with_fallback!(self, s => s.follow(client, after))
    }

    async fn discarded_after(
        &self,
        client: &ClientId,
        after: EventCursor,
    ) -> Result<bool, EventLogError> {
        // This process's log knows nothing of what the shared one discarded: while NATS is
        // away the answer is "cannot tell", not the local log's.
        with_fallback!(self, s => s.discarded_after(client, after), |err, _local| Err(err))
    }
}

/// An error and every cause under it, `: `-separated (the port errors name the store; the
/// causes say what NATS answered).
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

/// Opens (creating when absent) every bucket and stream the gateway shares over NATS, once
/// NATS is reachable, so that no request pays for creating a replicated one; retries every
/// second until all are open, and until then `readiness` reports the bus as degraded.
pub fn open_shared_state(
    bus: &BusAdapter,
    cache: &SessionCacheAdapter,
    requests: &RequestStoreAdapter,
    events: &EventLogAdapter,
    readiness: &super::readiness::Readiness<RunnerAdapter, BusAdapter>,
) {
    let (
        BusAdapter::Nats(conn),
        SessionCacheAdapter::Nats(cache),
        RequestStoreAdapter::Nats { nats: requests, .. },
        EventLogAdapter::Nats { nats: events, .. },
    ) = (bus, cache, requests, events)
    else {
        return;
    };
    let (conn, cache, requests, events) = (
        conn.clone(),
        cache.clone(),
        requests.clone(),
        events.clone(),
    );
    let opened = readiness.shared_state_flag();
    tokio::spawn(async move {
        loop {
            while !conn.is_connected() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let (c, r, e) = tokio::join!(cache.open(), requests.open(), events.open());
            let failed: Vec<String> = [
                ("session buckets", c.err().map(|e| with_causes(&e))),
                ("request buckets", r.err().map(|e| with_causes(&e))),
                ("event stream", e.err().map(|e| with_causes(&e))),
            ]
            .into_iter()
            .filter_map(|(what, error)| error.map(|e| format!("{what}: {e}")))
            .collect();
            if failed.is_empty() {
                tracing::debug!("shared buckets and event stream open");
                opened.store(true, std::sync::atomic::Ordering::SeqCst);
                return;
            }
            tracing::warn!(failed = ?failed, "shared state not open yet; retrying");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Cause;

    #[test]
    fn an_error_is_shown_with_every_cause_under_it() {
        let err = EventLogError::Unavailable(Cause::from("timed out opening the event stream"));
        assert_eq!(
            with_causes(&err),
            "event log is unavailable: timed out opening the event stream"
        );
    }
}
