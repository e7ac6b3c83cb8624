//! Adapters (memory): the reply bus twin, routing auth replies to waiters in this process.
//! It is also the in-process path the NATS reply bus falls back to while NATS is away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use crate::domain::{AuthReply, RequestId};
use crate::ports::{IncomingReply, ReplyBus, ReplyBusError, ReplyOutcome, ReplyStream};

/// How long a deliverer waits for the waiter's verdict before calling it refused.
const VERDICT_TIMEOUT: Duration = Duration::from_secs(5);

type Waiters = HashMap<RequestId, (u64, mpsc::Sender<IncomingReply>)>;

#[derive(Debug, Clone, Default)]
pub struct InMemoryReplyBus {
    waiters: Arc<Mutex<Waiters>>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
}

impl InMemoryReplyBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Waiters) -> T) -> T {
        f(&mut crate::sync::lock(&self.waiters))
    }

    /// Whether a waiter for `request` is registered in this process.
    pub fn has_waiter(&self, request: &RequestId) -> bool {
        self.with(|w| w.contains_key(request))
    }
}

/// Unregisters its waiter when the reply stream is dropped.
struct Registration {
    bus: InMemoryReplyBus,
    request: RequestId,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let (request, id) = (&self.request, self.id);
        self.bus.with(|w| {
            if w.get(request).is_some_and(|(owner, _)| *owner == id) {
                w.remove(request);
            }
        });
    }
}

impl ReplyBus for InMemoryReplyBus {
    async fn subscribe(&self, request: &RequestId) -> Result<ReplyStream, ReplyBusError> {
        let (tx, rx) = mpsc::channel(8);
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.with(|w| w.insert(request.clone(), (id, tx)));
        let registration = Registration {
            bus: self.clone(),
            request: request.clone(),
            id,
        };
        let stream = ReceiverStream::new(rx).map(move |reply| {
            let _keep_registered = &registration;
            reply
        });
        Ok(stream.boxed())
    }

    async fn deliver(&self, reply: AuthReply) -> Result<ReplyOutcome, ReplyBusError> {
        let Some(sender) = self.with(|w| w.get(&reply.request_id).map(|(_, tx)| tx.clone())) else {
            return Ok(ReplyOutcome::NoWaiter);
        };
        let (verdict, answer) = oneshot::channel();
        if sender.send(IncomingReply { reply, verdict }).await.is_err() {
            return Ok(ReplyOutcome::NoWaiter);
        }
        match tokio::time::timeout(VERDICT_TIMEOUT, answer).await {
            Ok(Ok(true)) => Ok(ReplyOutcome::Accepted),
            Ok(Ok(false)) => Ok(ReplyOutcome::Refused),
            Ok(Err(_)) => Ok(ReplyOutcome::NoWaiter),
            Err(_) => Ok(ReplyOutcome::Refused),
        }
    }
}
