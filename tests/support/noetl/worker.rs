//! Stand-in worker: what the auth and async playbooks do after they start, including
//! POSTing their callbacks to the `gateway_url` in the workload.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{
    CHECK_ACCESS, CallbackSent, ECHO, FAILING, LOGIN, SILENT, SILENT_FAILING, SLOW, State,
    VALIDATE, lock,
};

/// Login: `good...` tokens (optionally `good:<user_id>:<email>`) succeed, `slow...` succeed
/// after a second, everything else is refused.
pub(super) fn login_outcome(state: &State, auth0_token: &str) -> (bool, Value) {
    if auth0_token.starts_with("good") || auth0_token.starts_with("slow") {
        let mut parts = auth0_token.split(':').skip(1);
        let user_id = parts.next().and_then(|p| p.parse().ok()).unwrap_or(42);
        let email = parts.next().unwrap_or("ada@example.com").to_owned();
        let (token, user, expires_at) =
            state.create_session(user_id, &email, json!("{admin,developer}"));
        (
            true,
            json!({"status": "authenticated", "session_token": token, "user": user, "expires_at": expires_at}),
        )
    } else {
        (
            false,
            json!({"error": "Invalid Auth0 token", "message": "token signature is invalid"}),
        )
    }
}

/// Check-access: known sessions may run `public/...` playbooks; admins may run anything.
pub(super) fn access_outcome(state: &State, body: &Value) -> (bool, Value) {
    let token = body
        .get("session_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let path = body
        .get("playbook_path")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match state.session(token) {
        None => (
            false,
            json!({"error": "Invalid session", "message": "Session is invalid or expired"}),
        ),
        Some(s) => {
            let admin = s.user["roles"]
                .as_str()
                .is_some_and(|r| r.contains("admin"));
            let allowed = admin || path.starts_with("public/");
            let message = if allowed {
                "Access granted"
            } else {
                "Access denied"
            };
            (
                true,
                json!({"allowed": allowed, "message": message, "user": s.user}),
            )
        }
    }
}

async fn post(state: &State, payload: &Value, route: &str, body: Value) {
    let Some(base) = payload.get("gateway_url").and_then(Value::as_str) else {
        return;
    };
    let url = format!("{}{route}", base.trim_end_matches('/'));
    // Like a real worker, retry a callback that did not reach a gateway or found it
    // unavailable (a replica going away); six tries over about three seconds.
    let mut attempt = 0;
    let (status, answer) = loop {
        let mut request = state.http.post(&url).json(&body);
        if let Some(secret) = lock(&state.callback_secret).clone() {
            request = request.bearer_auth(secret);
        }
        // A worker continues the trace its execution was started in.
        if let Some(parent) = payload.get("traceparent").and_then(Value::as_str) {
            request = request.header("traceparent", parent);
        }
        let outcome = match request.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            }
            Err(e) => (0, json!({"transport_error": e.to_string()})),
        };
        attempt += 1;
        if !matches!(outcome.0, 0 | 502 | 503) || attempt == 6 {
            break outcome;
        }
        tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
    };
    lock(&state.callbacks).push(CallbackSent {
        url,
        body,
        status,
        answer,
    });
}

fn field<'a>(payload: &'a Value, key: &str) -> &'a Value {
    payload.get(key).unwrap_or(&Value::Null)
}

fn delay(payload: &Value, default_ms: u64) -> Duration {
    Duration::from_millis(
        payload
            .get("delay_ms")
            .and_then(Value::as_u64)
            .unwrap_or(default_ms),
    )
}

fn done_event(step: &str, result: Value) -> Value {
    json!({"event_type": "call.done", "node_name": step, "status": "COMPLETED", "result": result})
}

pub(super) async fn run(state: Arc<State>, id: u64, path: String, payload: Value) {
    let request_id = field(&payload, "request_id").clone();
    match path.as_str() {
        LOGIN => {
            let token = field(&payload, "auth0_token")
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if token.starts_with("silent") {
                return;
            }
            if token.starts_with("slow") {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let (ok, data) = login_outcome(&state, &token);
            let body = json!({"request_id": request_id, "execution_id": id, "step": "gateway_callback",
                              "status": if ok { "success" } else { "error" }, "data": data});
            state.set_status(
                id,
                "COMPLETED",
                Some(done_event("gateway_callback", body.clone())),
            );
            post(&state, &payload, "/api/internal/callback", body).await;
        }
        VALIDATE => {
            let token = field(&payload, "session_token")
                .as_str()
                .unwrap_or_default();
            let data = match state.session(token) {
                Some(s) => {
                    json!({"valid": true, "user": s.user, "expires_at": s.expires_at, "message": "Session is valid"})
                }
                None => {
                    json!({"valid": false, "user": null, "expires_at": null, "message": "Session is invalid or expired"})
                }
            };
            let body = json!({"request_id": request_id, "execution_id": id.to_string(), "status": "success", "data": data});
            state.set_status(id, "COMPLETED", None);
            post(&state, &payload, "/api/internal/callback", body).await;
        }
        CHECK_ACCESS => {
            let (ok, data) = access_outcome(&state, &payload);
            let body = json!({"request_id": request_id, "execution_id": id, "status": if ok { "success" } else { "error" }, "data": data});
            state.set_status(id, "COMPLETED", None);
            post(&state, &payload, "/api/internal/callback", body).await;
        }
        ECHO | SLOW => {
            if path == SLOW {
                tokio::time::sleep(delay(&payload, 1000)).await;
            }
            let progress = json!({"request_id": request_id, "execution_id": id, "step": "echo", "message": "working", "progress": 50});
            post(&state, &payload, "/api/internal/progress", progress).await;
            let result = json!({"echo": payload});
            state.set_status(id, "COMPLETED", Some(done_event("echo", result.clone())));
            let body = json!({"request_id": request_id, "execution_id": id.to_string(), "status": "COMPLETED", "data": result});
            post(&state, &payload, "/api/internal/callback/async", body).await;
        }
        FAILING => {
            let error =
                json!({"code": -32000, "message": "step boom failed", "data": {"step": "boom"}});
            state.set_status(
                id,
                "FAILED",
                Some(json!({"event_type": "call.error", "node_name": "boom", "error": error})),
            );
            let body = json!({"request_id": request_id, "execution_id": id, "status": "FAILED", "error": error});
            post(&state, &payload, "/api/internal/callback/async", body).await;
        }
        SILENT => {
            tokio::time::sleep(delay(&payload, 200)).await;
            state.set_status(
                id,
                "COMPLETED",
                Some(done_event("final", json!({"answer": 42}))),
            );
        }
        SILENT_FAILING => {
            tokio::time::sleep(delay(&payload, 200)).await;
            let error = json!({"message": "step final failed"});
            state.set_status(
                id,
                "FAILED",
                Some(json!({"event_type": "call.error", "node_name": "final", "error": error})),
            );
        }
        _ => {}
    }
}
