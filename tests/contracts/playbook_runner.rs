//! Contract of `PlaybookRunner`, with hooks for moving the engine along.

use noetl_gateway::domain::{ExecutionId, ExecutionState, PlaybookPath, Session, SessionToken};
use noetl_gateway::ports::{PlaybookRunner, RunnerError};
use serde_json::json;

use super::session;

/// Moves an execution to COMPLETED at the engine.
pub type Finish = Box<dyn Fn(&ExecutionId) + Send + Sync>;
/// Registers a session at the engine.
pub type AddSession = Box<dyn Fn(&SessionToken, Session) + Send + Sync>;

pub struct Controls {
    pub finish: Finish,
    pub add_session: AddSession,
}

pub async fn run<R: PlaybookRunner>(runner: R, controls: Controls) {
    runner.health().await.expect("healthy");
    let missing = PlaybookPath::parse("tests/missing").unwrap();
    assert!(matches!(
        runner.start(&missing, json!({})).await,
        Err(RunnerError::PlaybookNotFound(_))
    ));

    let silent = PlaybookPath::parse("tests/silent").unwrap();
    let id = runner
        .start(&silent, json!({"delay_ms": 60_000}))
        .await
        .expect("started");
    let status = runner.status(&id).await.expect("status");
    assert_eq!(
        status.execution_id, id,
        "the id reads back the same from string and number forms"
    );
    assert_eq!(status.state, ExecutionState::Running);
    (controls.finish)(&id);
    assert_eq!(
        runner.status(&id).await.unwrap().state,
        ExecutionState::Completed
    );

    let other = runner
        .start(&silent, json!({"delay_ms": 60_000}))
        .await
        .expect("started");
    assert_ne!(other, id);
    runner
        .cancel(&other, "no longer needed")
        .await
        .expect("cancelled");
    assert_eq!(
        runner.status(&other).await.unwrap().state,
        ExecutionState::Cancelled
    );
    let unknown = ExecutionId::parse("1").unwrap();
    assert!(matches!(
        runner.cancel(&unknown, "x").await,
        Err(RunnerError::ExecutionNotFound(_))
    ));
    assert!(matches!(
        runner.status(&unknown).await,
        Err(RunnerError::ExecutionNotFound(_))
    ));
    assert!(matches!(
        runner.rerun(&id, json!({})).await,
        Err(RunnerError::NotSupported(_))
    ));

    let token = SessionToken::parse("sess-contract-token").unwrap();
    assert_eq!(runner.validate_session(&token).await.unwrap(), None);
    (controls.add_session)(&token, session(7));
    let found = runner
        .validate_session(&token)
        .await
        .unwrap()
        .expect("now valid");
    assert_eq!(found.user, session(7).user);
    assert!(found.is_active);
}
