//! Adapters (memory): the workflow-engine twin. Knows a set of playbooks, records starts and
//! cancels, and lets a test move executions along and register sessions.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::domain::{
    AccessDecision, AccessQuery, ExecutionDetail, ExecutionId, ExecutionState, ExecutionStatus,
    LoginRequest, LoginVerdict, PlaybookPath, Session, SessionKey, SessionToken,
};
use crate::ports::{PlaybookRunner, RunnerError};

/// One start the twin saw.
#[derive(Debug, Clone, PartialEq)]
pub struct StartedExecution {
    pub execution_id: ExecutionId,
    pub path: PlaybookPath,
    pub payload: Value,
}

#[derive(Debug, Default)]
struct Inner {
    known: HashSet<String>,
    next: u64,
    started: Vec<StartedExecution>,
    states: HashMap<ExecutionId, ExecutionState>,
    cancelled: Vec<(ExecutionId, String)>,
    sessions: HashMap<SessionKey, Session>,
    rerun_supported: bool,
    down: bool,
    logins: HashMap<String, LoginVerdict>,
    events: HashMap<ExecutionId, Vec<Value>>,
}

#[derive(Debug, Clone, Default)]
pub struct InMemoryPlaybookRunner {
    inner: Arc<Mutex<Inner>>,
}

impl InMemoryPlaybookRunner {
    pub fn new(known: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let runner = Self::default();
        runner.with(|i| {
            i.known = known.into_iter().map(Into::into).collect();
            i.next = 1_000_000_000_000_000_000;
        });
        runner
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut crate::sync::lock(&self.inner))
    }

    pub fn started(&self) -> Vec<StartedExecution> {
        self.with(|i| i.started.clone())
    }

    pub fn cancelled(&self) -> Vec<(ExecutionId, String)> {
        self.with(|i| i.cancelled.clone())
    }

    pub fn set_state(&self, id: &ExecutionId, state: ExecutionState) {
        self.with(|i| i.states.insert(id.clone(), state));
    }

    pub fn add_session(&self, token: &SessionToken, session: Session) {
        self.with(|i| i.sessions.insert(token.key(), session));
    }

    /// Adds an event to an execution's detail, as a worker would.
    pub fn push_event(&self, id: &ExecutionId, event: Value) {
        self.with(|i| i.events.entry(id.clone()).or_default().push(event));
    }

    /// Scripts the answer to a login with this identity-provider token.
    pub fn script_login(&self, idp_token: &str, verdict: LoginVerdict) {
        self.with(|i| i.logins.insert(idp_token.to_owned(), verdict));
    }

    pub fn set_rerun_supported(&self, supported: bool) {
        self.with(|i| i.rerun_supported = supported);
    }

    /// Makes every call fail as if the engine were unreachable.
    pub fn set_down(&self, down: bool) {
        self.with(|i| i.down = down);
    }

    fn check_up(&self) -> Result<(), RunnerError> {
        if self.with(|i| i.down) {
            Err(RunnerError::Unavailable("the twin is set down".into()))
        } else {
            Ok(())
        }
    }
}

impl PlaybookRunner for InMemoryPlaybookRunner {
    async fn start(&self, path: &PlaybookPath, payload: Value) -> Result<ExecutionId, RunnerError> {
        self.check_up()?;
        self.with(|i| {
            if !i.known.contains(path.as_str()) {
                return Err(RunnerError::PlaybookNotFound(path.to_string()));
            }
            i.next += 1;
            let id = ExecutionId::from_u64(i.next);
            i.started.push(StartedExecution {
                execution_id: id.clone(),
                path: path.clone(),
                payload,
            });
            i.states.insert(id.clone(), ExecutionState::Running);
            Ok(id)
        })
    }

    async fn status(&self, id: &ExecutionId) -> Result<ExecutionStatus, RunnerError> {
        self.check_up()?;
        self.with(|i| {
            let state = *i
                .states
                .get(id)
                .ok_or_else(|| RunnerError::ExecutionNotFound(id.to_string()))?;
            let path = i
                .started
                .iter()
                .find(|s| &s.execution_id == id)
                .map(|s| s.path.clone());
            Ok(ExecutionStatus {
                execution_id: id.clone(),
                state,
                path,
                current_step: None,
            })
        })
    }

    async fn detail(&self, id: &ExecutionId) -> Result<ExecutionDetail, RunnerError> {
        let status = self.status(id).await?;
        let events = self.with(|i| i.events.get(id).cloned().unwrap_or_default());
        Ok(ExecutionDetail { status, events })
    }

    async fn list(&self, limit: u32, offset: u32) -> Result<Vec<ExecutionStatus>, RunnerError> {
        self.check_up()?;
        let ids: Vec<ExecutionId> = self.with(|i| {
            i.started
                .iter()
                .rev()
                .skip(offset as usize)
                .take(limit as usize)
                .map(|s| s.execution_id.clone())
                .collect()
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.status(&id).await?);
        }
        Ok(out)
    }

    async fn cancel(&self, id: &ExecutionId, reason: &str) -> Result<(), RunnerError> {
        self.check_up()?;
        self.with(|i| {
            let state = i
                .states
                .get_mut(id)
                .ok_or_else(|| RunnerError::ExecutionNotFound(id.to_string()))?;
            *state = ExecutionState::Cancelled;
            i.cancelled.push((id.clone(), reason.to_owned()));
            Ok(())
        })
    }

    async fn rerun(&self, id: &ExecutionId, variables: Value) -> Result<ExecutionId, RunnerError> {
        self.check_up()?;
        let (supported, path) = self.with(|i| {
            let path = i
                .started
                .iter()
                .find(|s| &s.execution_id == id)
                .map(|s| s.path.clone());
            (i.rerun_supported, path)
        });
        if !supported {
            return Err(RunnerError::NotSupported("rerun"));
        }
        let path = path.ok_or_else(|| RunnerError::ExecutionNotFound(id.to_string()))?;
        self.start(&path, variables).await
    }

    async fn validate_session(&self, token: &SessionToken) -> Result<Option<Session>, RunnerError> {
        self.check_up()?;
        Ok(self.with(|i| i.sessions.get(&token.key()).cloned()))
    }

    async fn login(&self, request: &LoginRequest) -> Result<LoginVerdict, RunnerError> {
        self.check_up()?;
        Ok(self.with(|i| {
            i.logins
                .get(request.auth0_token.expose())
                .cloned()
                .unwrap_or(LoginVerdict::Refused {
                    reason: "Invalid token".to_owned(),
                })
        }))
    }

    /// Admins may do anything; other known sessions nothing; unknown sessions are denied.
    async fn check_access(&self, query: &AccessQuery) -> Result<AccessDecision, RunnerError> {
        self.check_up()?;
        Ok(
            self.with(|i| match i.sessions.get(&query.session_token.key()) {
                Some(session) => AccessDecision {
                    allowed: session.user.roles.contains("admin"),
                    user: Some(session.user.clone()),
                    message: "checked by the twin".to_owned(),
                },
                None => AccessDecision {
                    allowed: false,
                    user: None,
                    message: "Invalid session".to_owned(),
                },
            }),
        )
    }

    async fn health(&self) -> Result<(), RunnerError> {
        self.check_up()
    }
}
