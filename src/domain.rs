//! Domain layer: pure rules and value types of the gateway. Depends on std, serde, uuid,
//! time and sha2 (for the one-way session key) only; knows nothing of HTTP, NATS or config.

mod auth;
mod error;
mod event;
mod execution;
mod ids;
mod playbook;
mod policy;
mod request;
mod session;
mod token;
mod user;

pub use auth::{
    AccessDecision, AccessQuery, IdpToken, LoginRequest, LoginSuccess, LoginVerdict, Permission,
};
pub use error::ValidationError;
pub use event::{AuthReply, ClientEvent, EventCursor, EventError, LoggedEvent};
pub use execution::{ExecutionDetail, ExecutionState, ExecutionStatus};
pub use ids::{ClientId, ExecutionId, RequestId, StreamId};
pub use playbook::PlaybookPath;
pub use policy::PathPolicy;
pub use request::{IdempotencyKey, IdempotentRecord, PendingRequest};
pub use session::{ExpiresAt, Session};
pub use token::{SessionKey, SessionToken};
pub use user::{Roles, User, UserId};
