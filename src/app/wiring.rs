//! App: the adapter choices made at run time. Each enum implements its port by static
//! dispatch (no `Arc<dyn>`), so configuration can pick memory or NATS, NoETL or its twin.

use serde_json::Value;

use crate::adapters::memory::{
    InMemoryBus, InMemoryPlaybookRunner, InMemoryReplyBus, InMemorySessionCache,
};
use crate::adapters::nats::{NatsConnection, NatsReplyBus, NatsSessionCache};
use crate::adapters::noetl::NoetlClient;
use crate::domain::{
    AccessDecision, AccessQuery, AuthReply, ExecutionDetail, ExecutionId, ExecutionStatus,
    LoginRequest, LoginVerdict, PlaybookPath, RequestId, Session, SessionKey, SessionToken,
};
use crate::ports::{
    BusMonitor, BusState, CacheLookup, InvalidationStream, PlaybookRunner, ReplyBus, ReplyBusError,
    ReplyOutcome, ReplyStream, RunnerError, SessionCache, SessionCacheError,
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
