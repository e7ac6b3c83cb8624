//! App: the execution watcher. Playbooks that never call back must not leave a client
//! waiting: each replica looks at unfinished requests, and for each one (under a short lease,
//! so one replica polls each execution) asks NoETL for its status with backoff; when it has
//! ended, the result is built from the execution's detail and logged like a callback's. A
//! callback that came first wins: a request is completed only once.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::callbacks::{CallbackService, ResultReport};
use crate::domain::{EventError, ExecutionDetail, ExecutionId, ExecutionState, PendingRequest};
use crate::ports::{EventLog, PlaybookRunner, RequestStore};

#[derive(Debug, Clone, Copy)]
pub struct WatchSettings {
    /// How often unfinished requests are looked at; also the first backoff step.
    pub interval: Duration,
    /// How long after its start a request is left to its callback before polling begins.
    pub grace: Duration,
    /// The longest wait between two polls of one execution.
    pub max_backoff: Duration,
}

struct Due {
    at: Instant,
    step: Duration,
}

pub struct Watcher<R, Q, L> {
    pub runner: R,
    pub requests: Q,
    pub callbacks: CallbackService<Q, L>,
    pub settings: WatchSettings,
    /// This replica's name in leases.
    pub holder: String,
}

impl<R: PlaybookRunner, Q: RequestStore, L: EventLog> Watcher<R, Q, L> {
    /// Runs until `stop` turns true.
    pub fn spawn(self, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut due: HashMap<ExecutionId, Due> = HashMap::new();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.interval) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                let Ok(unfinished) = self.requests.unfinished().await else {
                    continue;
                };
                let now_unix = time::OffsetDateTime::now_utc().unix_timestamp();
                due.retain(|id, _| unfinished.iter().any(|r| &r.execution_id == id));
                for request in unfinished {
                    let young = now_unix - request.created_at
                        < i64::try_from(self.settings.grace.as_secs()).unwrap_or(0);
                    let waiting = due
                        .get(&request.execution_id)
                        .is_some_and(|d| d.at > Instant::now());
                    if young || waiting {
                        continue;
                    }
                    let lease = format!("watch-{}", request.execution_id);
                    if !matches!(self.requests.lease(&lease, &self.holder).await, Ok(true)) {
                        continue;
                    }
                    if !self.poll(&request).await {
                        let step = due
                            .get(&request.execution_id)
                            .map_or(self.settings.interval, |d| {
                                (d.step * 2).min(self.settings.max_backoff)
                            });
                        due.insert(
                            request.execution_id.clone(),
                            Due {
                                at: Instant::now() + step,
                                step,
                            },
                        );
                    }
                }
            }
        })
    }

    /// Polls one execution; `true` once its result has been logged.
    async fn poll(&self, request: &PendingRequest) -> bool {
        let Ok(status) = self.runner.status(&request.execution_id).await else {
            return false;
        };
        if !status.state.is_terminal() {
            return false;
        }
        // A callback may be just behind the status change: look once more before speaking.
        if let Ok(Some(fresh)) = self.requests.get(&request.request_id).await
            && fresh.completed
        {
            return true;
        }
        let detail = self
            .runner
            .detail(&request.execution_id)
            .await
            .unwrap_or(ExecutionDetail {
                status: status.clone(),
                events: Vec::new(),
            });
        let report = report_from(request, &detail);
        match self.callbacks.result(report).await {
            Ok(_) => {
                tracing::info!(execution = %request.execution_id, "result built from NoETL for a silent playbook");
                true
            }
            Err(err) => {
                tracing::warn!(execution = %request.execution_id, error = %err, "could not log a watched result");
                false
            }
        }
    }
}

fn report_from(request: &PendingRequest, detail: &ExecutionDetail) -> ResultReport {
    let state = match detail.status.state {
        ExecutionState::Completed => ExecutionState::Completed,
        _ => ExecutionState::Failed,
    };
    let error = (state == ExecutionState::Failed).then(|| {
        let reported = detail.last_error();
        let message = reported
            .as_ref()
            .and_then(|e| e.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!(
                    "Playbook {}",
                    detail.status.state.as_str().to_ascii_lowercase()
                )
            });
        EventError {
            code: -32000,
            message,
            data: reported,
        }
    });
    ResultReport {
        request_id: request.request_id.clone(),
        execution_id: Some(request.execution_id.clone()),
        state,
        data: detail.last_output(),
        error,
        trace: None,
    }
}
