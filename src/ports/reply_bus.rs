//! Port: routing a worker's auth reply to whichever replica waits for it.
//!
//! The waiting side judges each reply (it alone knows the execution it started) and the
//! verdict travels back, so the replica that took the callback can answer the worker truly.

use std::future::Future;

use futures_util::stream::BoxStream;
use tokio::sync::oneshot;

use crate::domain::{AuthReply, RequestId};

use super::Cause;

/// A reply that reached the waiter, with the channel for its verdict (`true`: accepted).
#[derive(Debug)]
pub struct IncomingReply {
    pub reply: AuthReply,
    pub verdict: oneshot::Sender<bool>,
}

/// Replies for one request id, until the stream is dropped.
pub type ReplyStream = BoxStream<'static, IncomingReply>;

/// What happened to a delivered reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyOutcome {
    Accepted,
    Refused,
    NoWaiter,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplyBusError {
    #[error("reply bus is unavailable")]
    Unavailable(#[source] Cause),
}

pub trait ReplyBus: Clone + Send + Sync + 'static {
    /// Registers interest in replies to `request`. Replies delivered after this returns reach
    /// the stream; dropping the stream unregisters.
    ///
    /// # Errors
    /// `Unavailable` when interest cannot be registered anywhere.
    fn subscribe(
        &self,
        request: &RequestId,
    ) -> impl Future<Output = Result<ReplyStream, ReplyBusError>> + Send;

    /// Hands a reply to its waiter and returns the waiter's verdict.
    ///
    /// # Errors
    /// `Unavailable` when the bus cannot be reached; `NoWaiter` is an outcome, not an error.
    fn deliver(
        &self,
        reply: AuthReply,
    ) -> impl Future<Output = Result<ReplyOutcome, ReplyBusError>> + Send;
}
