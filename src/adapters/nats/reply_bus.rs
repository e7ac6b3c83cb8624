//! Adapters (nats): the reply bus across replicas. A waiter registers in this process and on
//! `{NATS_CALLBACK_SUBJECT_PREFIX}.{request_id}`; a deliverer hands the reply over in-process
//! when the waiter is local (also the path while NATS is away) and otherwise as a NATS
//! request whose answer is the waiter's verdict.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::{NatsConnection, RECONNECT_GRACE};
use crate::adapters::memory::InMemoryReplyBus;
use crate::domain::{AuthReply, RequestId};
use crate::ports::{ReplyBus, ReplyBusError, ReplyOutcome, ReplyStream};

/// How long a deliverer waits for a remote waiter's verdict.
const REMOTE_VERDICT_TIMEOUT: Duration = Duration::from_secs(6);

const ACCEPTED: &[u8] = b"accepted";
const REFUSED: &[u8] = b"refused";
const NO_WAITER: &[u8] = b"no_waiter";

#[derive(Debug, Clone)]
pub struct NatsReplyBus {
    local: InMemoryReplyBus,
    conn: NatsConnection,
    prefix: String,
}

impl NatsReplyBus {
    pub fn new(conn: NatsConnection, prefix: &str) -> Self {
        Self {
            local: InMemoryReplyBus::new(),
            conn,
            prefix: prefix.trim_end_matches('.').to_owned(),
        }
    }

    fn subject(&self, request: &RequestId) -> String {
        format!("{}.{}", self.prefix, request.as_str())
    }
}

/// Stops the NATS relay when the waiter's stream is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ReplyBus for NatsReplyBus {
    #[tracing::instrument(name = "nats replies subscribe", skip_all)]
    async fn subscribe(&self, request: &RequestId) -> Result<ReplyStream, ReplyBusError> {
        let local = self.local.subscribe(request).await?;
        // A moment without NATS (a reconnect to another node) is waited out: the callback
        // may reach any replica, and only a NATS subscription lets another one hand it over.
        if !self.conn.wait_connected(RECONNECT_GRACE).await {
            tracing::warn!("NATS is away: this login can only complete on this replica");
            return Ok(local);
        }
        let mut remote = match self.conn.client().subscribe(self.subject(request)).await {
            Ok(sub) => sub,
            Err(err) => {
                tracing::warn!(error = %err, "callback subscription failed; in-process only");
                return Ok(local);
            }
        };
        let bus = self.local.clone();
        let client = self.conn.client().clone();
        let relay = tokio::spawn(async move {
            while let Some(message) = remote.next().await {
                let outcome = match serde_json::from_slice::<AuthReply>(&message.payload) {
                    Ok(reply) => bus.deliver(reply).await.unwrap_or(ReplyOutcome::NoWaiter),
                    Err(_) => ReplyOutcome::Refused,
                };
                if let Some(reply_to) = message.reply {
                    let answer = match outcome {
                        ReplyOutcome::Accepted => ACCEPTED,
                        ReplyOutcome::Refused => REFUSED,
                        ReplyOutcome::NoWaiter => NO_WAITER,
                    };
                    let _ = client.publish(reply_to, Bytes::from_static(answer)).await;
                }
            }
        });
        let guard = AbortOnDrop(relay);
        // A probe through the server proves it routes this subject to us before the playbook
        // starts; a callback racing ahead of the subscription would find no responder.
        let probe = self
            .conn
            .client()
            .request(self.subject(request), Bytes::from_static(b"probe"));
        if !matches!(
            tokio::time::timeout(Duration::from_secs(2), probe).await,
            Ok(Ok(_))
        ) {
            tracing::warn!(
                "callback subscription not confirmed by NATS; in-process path still works"
            );
        }
        Ok(local
            .map(move |incoming| {
                let _relay_lives_with_the_stream = &guard;
                incoming
            })
            .boxed())
    }

    #[tracing::instrument(name = "nats replies deliver", skip_all)]
    async fn deliver(&self, reply: AuthReply) -> Result<ReplyOutcome, ReplyBusError> {
        if self.local.has_waiter(&reply.request_id) {
            return self.local.deliver(reply).await;
        }
        // The waiter may be on another replica: a moment without NATS (a reconnect to
        // another node) must not turn into "no waiter", which a worker would not retry.
        if !self.conn.wait_connected(RECONNECT_GRACE).await {
            return match self.local.deliver(reply).await? {
                ReplyOutcome::NoWaiter => Err(ReplyBusError::Unavailable(
                    "NATS is away: the waiting replica cannot be reached".into(),
                )),
                outcome => Ok(outcome),
            };
        }
        let payload = Bytes::from(
            serde_json::to_vec(&reply).map_err(|e| ReplyBusError::Unavailable(Box::new(e)))?,
        );
        let subject = self.subject(&reply.request_id);
        // Interest may still be propagating through a cluster, or the waiting replica may be
        // reconnecting to another node after losing its own: "no responders" is retried for
        // about three seconds before it counts as no waiter.
        for pause_ms in [20u64, 60, 150, 300, 500, 800, 1200] {
            let request = self.conn.client().request(subject.clone(), payload.clone());
            match tokio::time::timeout(REMOTE_VERDICT_TIMEOUT, request).await {
                Ok(Ok(answer)) => {
                    return Ok(match answer.payload.as_ref() {
                        ACCEPTED => ReplyOutcome::Accepted,
                        NO_WAITER => ReplyOutcome::NoWaiter,
                        _ => ReplyOutcome::Refused,
                    });
                }
                Ok(Err(err)) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
                    tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                }
                Ok(Err(err)) => return Err(ReplyBusError::Unavailable(Box::new(err))),
                Err(_) => return Err(ReplyBusError::Unavailable("no verdict in time".into())),
            }
        }
        Ok(ReplyOutcome::NoWaiter)
    }
}
