//! Stand-in routes: the NoETL REST API shapes (ids as a string from execute, numbers
//! elsewhere; `{"error","status"}` errors; the synchronous auth routes).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route, get, handler, post};
use serde_json::{Value, json};

use super::{Execution, KNOWN, State, lock, worker};

type St<'a> = Data<&'a Arc<State>>;

fn answer(status: StatusCode, body: Value) -> Response {
    Json(body).with_status(status).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    answer(status, json!({"error": message, "status": status.as_u16()}))
}

async fn stall(state: &State) {
    let ms = state.stall_ms.load(Ordering::SeqCst);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

fn body_or_null(body: Option<Json<Value>>) -> Value {
    body.map(|Json(v)| v).unwrap_or(Value::Null)
}

#[handler]
async fn execute(state: St<'_>, body: Option<Json<Value>>) -> Response {
    let body = body_or_null(body);
    state.record("POST", "/api/execute", body.clone());
    stall(&state).await;
    let Some(path) = body.get("path").and_then(Value::as_str).map(str::to_owned) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "path is required");
    };
    if !KNOWN.contains(&path.as_str()) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Playbook not found: {path}"),
        );
    }
    let payload = body
        .get("payload")
        .or_else(|| body.get("workload"))
        .cloned()
        .unwrap_or(json!({}));
    let id = state.next_id.fetch_add(1, Ordering::SeqCst);
    lock(&state.executions).insert(
        id,
        Execution {
            id,
            path: path.clone(),
            payload: payload.clone(),
            status: "RUNNING".into(),
            events: vec![],
        },
    );
    tokio::spawn(worker::run(state.0.clone(), id, path, payload));
    answer(
        StatusCode::OK,
        json!({"execution_id": id.to_string(), "status": "started", "commands_generated": 1}),
    )
}

fn exec_json(e: &Execution) -> Value {
    json!({
        "execution_id": e.id, "path": e.path, "status": e.status,
        "started_at": "2026-11-27T07:00:00Z",
        "completed_at": if e.status == "RUNNING" { Value::Null } else { json!("2026-11-27T07:00:01Z") },
        "workload": e.payload, "events": e.events,
    })
}

#[handler]
async fn exec_status(state: St<'_>, Path(id): Path<u64>) -> Response {
    state.record("GET", &format!("/api/executions/{id}/status"), Value::Null);
    stall(&state).await;
    let Some(e) = lock(&state.executions).get(&id).cloned() else {
        return error(StatusCode::NOT_FOUND, &format!("Execution not found: {id}"));
    };
    if state.legacy_status.load(Ordering::SeqCst) {
        let done = e.status != "RUNNING";
        return answer(
            StatusCode::OK,
            json!({"execution_id": id, "completed": done, "failed": e.status == "FAILED"}),
        );
    }
    answer(
        StatusCode::OK,
        json!({"execution_id": id, "status": e.status, "current_step": null, "path": e.path}),
    )
}

#[handler]
async fn detail(state: St<'_>, Path(id): Path<u64>) -> Response {
    state.record("GET", &format!("/api/executions/{id}"), Value::Null);
    stall(&state).await;
    match lock(&state.executions).get(&id) {
        Some(e) => answer(StatusCode::OK, exec_json(e)),
        None => error(StatusCode::NOT_FOUND, &format!("Execution not found: {id}")),
    }
}

#[handler]
async fn list(state: St<'_>) -> Response {
    state.record("GET", "/api/executions", Value::Null);
    stall(&state).await;
    let mut all: Vec<Value> = lock(&state.executions).values().map(exec_json).collect();
    all.sort_by_key(|e| e["execution_id"].as_u64());
    answer(StatusCode::OK, json!(all))
}

#[handler]
async fn cancel(state: St<'_>, Path(id): Path<u64>, body: Option<Json<Value>>) -> Response {
    state.record(
        "POST",
        &format!("/api/executions/{id}/cancel"),
        body_or_null(body),
    );
    stall(&state).await;
    if !lock(&state.executions).contains_key(&id) {
        return error(StatusCode::NOT_FOUND, &format!("Execution not found: {id}"));
    }
    state.set_status(id, "CANCELLED", None);
    answer(
        StatusCode::OK,
        json!({"execution_id": id, "status": "CANCELLED"}),
    )
}

#[handler]
async fn rerun(state: St<'_>, Path(id): Path<u64>, body: Option<Json<Value>>) -> Response {
    state.record(
        "POST",
        &format!("/api/executions/{id}/rerun"),
        body_or_null(body),
    );
    if !state.rerun_supported.load(Ordering::SeqCst) {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let Some(old) = lock(&state.executions).get(&id).cloned() else {
        return error(StatusCode::NOT_FOUND, &format!("Execution not found: {id}"));
    };
    let new_id = state.next_id.fetch_add(1, Ordering::SeqCst);
    lock(&state.executions).insert(
        new_id,
        Execution {
            id: new_id,
            status: "RUNNING".into(),
            events: vec![],
            ..old.clone()
        },
    );
    tokio::spawn(worker::run(state.0.clone(), new_id, old.path, old.payload));
    answer(
        StatusCode::OK,
        json!({"execution_id": new_id.to_string(), "status": "started"}),
    )
}

#[handler]
async fn sync_login(state: St<'_>, body: Option<Json<Value>>) -> Response {
    let body = body_or_null(body);
    state.record("POST", "/api/auth/login", body.clone());
    stall(&state).await;
    let token = body
        .get("auth0_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (ok, data) = worker::login_outcome(&state, token);
    answer(
        StatusCode::OK,
        json!({"status": if ok { "success" } else { "error" }, "data": data}),
    )
}

#[handler]
async fn sync_validate(state: St<'_>, body: Option<Json<Value>>) -> Response {
    let body = body_or_null(body);
    state.record("POST", "/api/auth/session/validate", body.clone());
    stall(&state).await;
    let token = body
        .get("session_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match state.session(token) {
        Some(s) => answer(
            StatusCode::OK,
            json!({"status": "ok", "valid": true, "user": s.user, "expires_at": s.expires_at}),
        ),
        None => answer(StatusCode::OK, json!({"status": "ok", "valid": false})),
    }
}

#[handler]
async fn sync_check_access(state: St<'_>, body: Option<Json<Value>>) -> Response {
    let body = body_or_null(body);
    state.record("POST", "/api/auth/check-playbook-access", body.clone());
    stall(&state).await;
    let (ok, data) = worker::access_outcome(&state, &body);
    answer(
        StatusCode::OK,
        json!({"status": if ok { "success" } else { "error" }, "data": data}),
    )
}

#[handler]
async fn health(state: St<'_>) -> Response {
    state.record("GET", "/api/health", Value::Null);
    stall(&state).await;
    answer(
        StatusCode::OK,
        json!({"status": "ok", "database": "connected", "nats": "connected"}),
    )
}

#[handler]
async fn catalog_list(state: St<'_>, body: Option<Json<Value>>) -> Response {
    state.record("POST", "/api/catalog/list", body_or_null(body));
    let items: Vec<Value> = KNOWN
        .iter()
        .map(|p| json!({"path": p, "resource_type": "Playbook"}))
        .collect();
    answer(StatusCode::OK, json!({"items": items}))
}

pub(super) fn app(state: Arc<State>) -> impl Endpoint {
    Route::new()
        .at("/api/execute", post(execute))
        .at("/api/executions", get(list))
        .at("/api/executions/:id", get(detail))
        .at("/api/executions/:id/status", get(exec_status))
        .at("/api/executions/:id/cancel", post(cancel))
        .at("/api/executions/:id/rerun", post(rerun))
        .at("/api/auth/login", post(sync_login))
        .at("/api/auth/session/validate", post(sync_validate))
        .at("/api/auth/check-playbook-access", post(sync_check_access))
        .at("/api/health", get(health))
        .at("/api/catalog/list", post(catalog_list))
        .data(state)
}
