//! Adapters (http): `GET /events`, the Server-Sent Events stream of a client. Frames are
//! JSON-RPC 2.0 (CONTRACT section 5); each carries an SSE `id:` (its cursor in the client's
//! event log) so a reconnect with `Last-Event-ID` or `?lastEventId=`, on any replica,
//! replays what was missed. Events are pulled from the log as the connection takes them, so
//! a slow client holds no queue in the gateway: it falls behind in the log, within its
//! retention, and catches up or resumes later.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::web::sse::Event;
use poem::{Body, Request, Response, handler};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::envelope::{api_error_response, error_response};
use super::error::{ApiError, ErrorCode};
use super::request_id::CorrelationId;
use super::session_auth::authenticate;
use crate::adapters::trace_context;
use crate::app::Gateway;
use crate::app::executions::ExecutionError;
use crate::app::metrics::SseGuard;
use crate::app::presence::PresenceGuard;
use crate::app::stream_quota::{StreamPlace, StreamsFull};
use crate::domain::{ClientEvent, ClientId, EventCursor, LoggedEvent, PendingRequest, StreamId};
use crate::ports::EventStream;

const PROTOCOL_VERSION: &str = "2024-11-05";
/// How long a client waits before reconnecting after the gateway ends its stream.
const RETRY_MS: u64 = 1_000;
/// The `Retry-After` of a stream refused at its session's bound.
const RETRY_AFTER_SECS: u32 = 5;

fn query_param(req: &Request, name: &str) -> Option<String> {
    req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    })
}

fn frame(event: &str, data: &Value) -> Event {
    Event::message(data.to_string()).event_type(event)
}

/// The one-frame stream for a refused session or client: an `error` event, then the end.
fn refusal(code: i64, message: &str) -> Response {
    let data = json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}});
    sse_response(stream::iter([frame("error", &data).id("0")]))
}

/// The streaming response for a sequence of frames, each written as its own body chunk.
/// (poem's `SSE` response reads its frames back through a 4 KiB buffer per stream, which
/// is a quarter of what an idle stream costs here.)
fn sse_response(frames: impl Stream<Item = Event> + Send + 'static) -> Response {
    let chunks = frames.map(|frame| Ok::<_, std::io::Error>(Bytes::from(frame.to_string())));
    Response::builder()
        .content_type("text/event-stream")
        .header("X-Accel-Buffering", "no")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_bytes_stream(chunks))
}

/// The first frame: the client's id and pending requests, and on a resume whether the log
/// discarded events after the client's last one before it came back (`missedEvents`; the
/// client should then reload what it shows).
fn init_frame(
    client: &ClientId,
    pending: &[PendingRequest],
    cursor: Option<EventCursor>,
    missed: Option<bool>,
) -> Event {
    let pending: Vec<Value> = pending
        .iter()
        .map(|p| json!({"requestId": p.request_id, "executionId": p.execution_id, "playbookPath": p.playbook_path}))
        .collect();
    let mut data = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "protocolVersion": PROTOCOL_VERSION,
            "serverInfo": {"name": "noetl-gateway", "version": env!("CARGO_PKG_VERSION")},
            "clientId": client,
            "capabilities": {"playbooks": true, "callbacks": true},
            "pendingRequests": pending,
        }
    });
    if let Some(missed) = missed {
        data["result"]["missedEvents"] = json!(missed);
    }
    frame("message", &data).id(cursor.map_or(0, EventCursor::get).to_string())
}

/// The SSE frame of a logged event, or `None` for a marker that is not for the client.
fn event_frame(logged: &LoggedEvent) -> Option<Event> {
    let (method, params) = match &logged.event {
        ClientEvent::Result {
            request_id,
            execution_id,
            state,
            data,
            error,
            ..
        } => {
            let mut params = json!({"requestId": request_id, "executionId": execution_id, "status": state.as_str()});
            if let Some(data) = data {
                params["data"] = data.clone();
            }
            if let Some(error) = error {
                params["error"] = json!(error);
            }
            ("playbook/result", params)
        }
        ClientEvent::Progress {
            request_id,
            execution_id,
            step,
            message,
            progress,
            ..
        } => (
            "playbook/progress",
            json!({"requestId": request_id, "executionId": execution_id, "step": step, "message": message, "progress": progress}),
        ),
        ClientEvent::State {
            execution_id,
            state,
            step_name,
            at,
        } => {
            let word = state.as_str().to_ascii_lowercase();
            (
                "playbook/state",
                json!({"execution_id": execution_id, "event_type": format!("playbook.{word}"), "step_name": step_name, "status": word, "at": at}),
            )
        }
        ClientEvent::StreamOpened { .. } => return None,
    };
    let body = json!({"jsonrpc": "2.0", "method": method, "params": params});
    Some(frame(method, &body).id(logged.cursor.get().to_string()))
}

enum Next {
    Logged(Result<LoggedEvent, crate::ports::EventLogError>),
    Ping,
    Goodbye,
}

#[handler]
pub async fn events(req: &Request, gateway: Data<&Arc<Gateway>>) -> Response {
    let id = req
        .extensions()
        .get::<CorrelationId>()
        .cloned()
        .unwrap_or_else(CorrelationId::generated);
    let after = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query_param(req, "lastEventId"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .map(EventCursor::new);
    let (token, _session) = match authenticate(&gateway, req, true).await {
        Ok(found) => found,
        Err(refused) if refused.status() == StatusCode::UNAUTHORIZED => {
            return refusal(-32002, "Invalid or expired session");
        }
        // The session could not be checked (NoETL away and the token not cached). Nothing is
        // sent but the client's own cursor, and it is told to come back, which `EventSource`
        // does on its own; an error status would end it for good.
        Err(unchecked) => {
            tracing::warn!(status = %unchecked.status(), "session not checkable: the stream asks the client to reconnect");
            return reconnect_later(after);
        }
    };
    let (client, fresh) = match query_param(req, "client_id").filter(|c| !c.is_empty()) {
        Some(raw) => match ClientId::parse(&raw) {
            Ok(c) => (c, false),
            Err(e) => return error_response(StatusCode::BAD_REQUEST, &e.to_string(), &id),
        },
        None => (ClientId::generate(), true),
    };
    let owner = token.key();
    let place = match gateway.streams.enter_sse(&owner, &client) {
        Ok(place) => place,
        Err(full) => return too_many_streams(&full, &id),
    };
    let logged = match gateway
        .executions
        .follow_client(&client, &owner, after)
        .await
    {
        Ok(s) => s,
        Err(ExecutionError::Forbidden(_)) => {
            return refusal(-32003, "This client_id belongs to another session");
        }
        // The shared store (the client's claim or its log) did not answer within its
        // patience (a NATS failover that outlasted it). `EventSource` gives up for good on
        // an error status, but reconnects after a stream that ends: so the client is told to
        // come back from its cursor, as on a drain, and loses nothing.
        Err(err) => {
            tracing::warn!(error = %err, "shared store unavailable: the stream asks the client to reconnect");
            return reconnect_later(after);
        }
    };
    // A client id generated just now has nothing pending, and listing it would still cost
    // the store a scan (over NATS, one that grows with the bucket).
    let pending: Vec<PendingRequest> = if fresh {
        Vec::new()
    } else {
        gateway
            .executions
            .pending_for(&client)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !p.completed)
            .collect()
    };
    let mark = if fresh {
        Mark::Newest
    } else {
        let stream = StreamId::generate();
        match gateway.executions.announce_stream(&client, &stream).await {
            Ok(()) => Mark::Awaiting(stream),
            Err(err) => {
                tracing::warn!(error = %err, "could not mark the stream's opening; only streams on this replica are replaced");
                Mark::Unmarked
            }
        }
    };
    let missed = gateway.executions.missed_after(&client, after).await;
    let first = init_frame(&client, &pending, after, missed);
    let body = live(gateway.clone(), client, logged, after, mark, place);
    sse_response(stream::iter([first]).chain(body))
}

/// How a stream tells, from the stream marks in its client's log, that a newer stream for
/// the same client opened (on any replica).
enum Mark {
    /// Its own opening is marked and not read back yet: marks before it are older streams'.
    Awaiting(StreamId),
    /// No stream for the client is newer than this one so far (it has read its own mark, or
    /// its client id was just generated): the next mark is a newer stream's.
    Newest,
    /// Its opening could not be marked, so marks cannot be ordered against it and are
    /// ignored (a newer stream on this replica still replaces it through presence).
    Unmarked,
}

/// What one stream carries from frame to frame.
struct Live {
    logged: EventStream,
    presence: PresenceGuard,
    _open: SseGuard,
    _place: StreamPlace,
    draining: watch::Receiver<bool>,
    /// The cursor of the last frame sent (the client's resume point).
    last: u64,
    mark: Mark,
    done: bool,
}

impl Live {
    /// The frames for one log entry; `None` when the entry ends this stream.
    fn on_logged(&mut self, logged: &LoggedEvent) -> Option<Vec<Event>> {
        if let ClientEvent::StreamOpened { stream } = &logged.event {
            let newer = match &self.mark {
                Mark::Awaiting(own) if own == stream => {
                    self.mark = Mark::Newest;
                    false
                }
                Mark::Awaiting(_) | Mark::Unmarked => false,
                Mark::Newest => true,
            };
            return if newer { None } else { Some(Vec::new()) };
        }
        trace_context::record_delivery(logged.event.trace(), logged.cursor.get());
        self.last = logged.cursor.get();
        Some(event_frame(logged).into_iter().collect())
    }
}

/// Log events as they come, a ping every heartbeat, and a goodbye (with a retry hint) when
/// the gateway drains or a newer stream for the same client replaces this one (on this
/// replica through presence, on any replica through the stream marks in the log).
fn live(
    gateway: Arc<Gateway>,
    client: ClientId,
    logged: EventStream,
    after: Option<EventCursor>,
    mark: Mark,
    place: StreamPlace,
) -> impl Stream<Item = Event> + Send {
    let state = Live {
        logged,
        presence: gateway.callbacks.presence().enter(&client),
        _open: gateway.metrics.sse_opened(),
        _place: place,
        draining: gateway.draining.clone(),
        last: after.map_or(0, EventCursor::get),
        mark,
        done: false,
    };
    let heartbeat = gateway.heartbeat;
    stream::unfold(state, move |mut st| async move {
        if st.done {
            return None;
        }
        let next = tokio::select! {
            item = st.logged.next() => match item {
                Some(item) => Next::Logged(item),
                None => Next::Goodbye,
            },
            _ = tokio::time::sleep(heartbeat) => Next::Ping,
            _ = st.draining.wait_for(|d| *d) => Next::Goodbye,
            _ = st.presence.replaced() => Next::Goodbye,
        };
        let frames = match next {
            Next::Logged(Ok(event)) => st.on_logged(&event),
            Next::Logged(Err(err)) => {
                tracing::warn!(error = %err, "event log read failed; asking the client to resume");
                None
            }
            Next::Ping => {
                let ping = json!({"jsonrpc": "2.0", "method": "ping", "params": {}});
                Some(vec![frame("ping", &ping).id(st.last.to_string())])
            }
            Next::Goodbye => None,
        };
        let frames = frames.unwrap_or_else(|| {
            st.done = true;
            goodbye(st.last)
        });
        Some((stream::iter(frames), st))
    })
    .flatten()
}

/// The answer to a stream over its session's bound: an error status (not a stream that
/// ends, which `EventSource` would reopen at once, and again after each retry).
fn too_many_streams(full: &StreamsFull, id: &CorrelationId) -> Response {
    let refused = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooManyRequests,
        full.to_string(),
        id,
    );
    api_error_response(&refused.retry_after(RETRY_AFTER_SECS), id)
}

/// A stream that only tells the client to reconnect from `after` (its own cursor).
fn reconnect_later(after: Option<EventCursor>) -> Response {
    sse_response(stream::iter(goodbye(after.map_or(0, EventCursor::get))))
}

fn goodbye(last: u64) -> Vec<Event> {
    let data = json!({"jsonrpc": "2.0", "method": "reconnect", "params": {"lastEventId": last.to_string(), "retryMs": RETRY_MS}});
    vec![
        Event::retry(RETRY_MS),
        frame("reconnect", &data).id(last.to_string()),
    ]
}
