//! App: the adapter choices made at run time. Each enum implements its port by static
//! dispatch (no `Arc<dyn>`), so configuration can pick memory or NATS, NoETL or its twin.

use serde_json::Value;

use crate::adapters::memory::{InMemoryBus, InMemoryPlaybookRunner};
use crate::adapters::nats::NatsConnection;
use crate::adapters::noetl::NoetlClient;
use crate::domain::{ExecutionId, ExecutionStatus, PlaybookPath, Session, SessionToken};
use crate::ports::{BusMonitor, BusState, PlaybookRunner, RunnerError};

/// The workflow engine: NoETL over REST, or the in-memory twin.
#[derive(Debug, Clone)]
pub enum RunnerAdapter {
    Noetl(NoetlClient),
    Memory(InMemoryPlaybookRunner),
}

macro_rules! dispatch {
    ($self:ident, $inner:ident => $call:expr) => {
        match $self {
            Self::Noetl($inner) => $call.await,
            Self::Memory($inner) => $call.await,
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

    async fn rerun(&self, id: &ExecutionId, variables: Value) -> Result<ExecutionId, RunnerError> {
        dispatch!(self, r => r.rerun(id, variables))
    }

    async fn validate_session(&self, token: &SessionToken) -> Result<Option<Session>, RunnerError> {
        dispatch!(self, r => r.validate_session(token))
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
