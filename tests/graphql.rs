//! Black-box tests of GraphQL against the NoETL stand-in: the upstream mutation, queries,
//! errors with stable codes, limits, idempotency, and the subscription over WebSocket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::noetl::{ECHO, SILENT};
use support::{NoetlStandIn, TestGateway};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const BROWSER_MUTATION: &str = "mutation ExecutePlaybook($name: String!, $vars: JSON, $clientId: String) { executePlaybook(name: $name, variables: $vars, clientId: $clientId) { id executionId requestId name status } }";

async fn gql(gw: &TestGateway, token: &str, query: &str, variables: Value) -> (u16, Value) {
    let resp = gw
        .http
        .post(gw.public("/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

async fn setup() -> (NoetlStandIn, TestGateway, String) {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |_| {}).await;
    let token = standin.add_session(21, "gql@example.com", json!(["admin"]));
    (standin, gw, token)
}

#[tokio::test]
async fn the_browser_apps_mutation_works_as_written() {
    let (standin, gw, token) = setup().await;
    let vars = json!({"name": ECHO, "vars": {"x": 1}, "clientId": "tab-1"});
    let (status, body) = gql(&gw, &token, BROWSER_MUTATION, vars).await;
    assert_eq!(status, 200, "{body}");
    let result = &body["data"]["executePlaybook"];
    assert_eq!(result["id"], result["executionId"], "{body}");
    assert_eq!(result["name"], ECHO);
    assert_eq!(result["status"], "started");
    let request_id = result["requestId"].as_str().unwrap();
    let started = &standin.executions_of(ECHO)[0];
    assert_eq!(
        started.id.to_string(),
        result["executionId"].as_str().unwrap()
    );
    assert_eq!(
        started.payload["request_id"], request_id,
        "the workload carries request_id"
    );
    assert_eq!(
        started.payload["gateway_url"],
        format!("http://{}", gw.app.internal_addr)
    );
    assert_eq!(started.payload["x"], 1, "the variables pass through");

    let (_, plain) = gql(&gw, &token, BROWSER_MUTATION, json!({"name": ECHO})).await;
    assert!(
        plain["data"]["executePlaybook"]["requestId"].is_null(),
        "no clientId, no requestId: {plain}"
    );
    assert!(
        standin.executions_of(ECHO)[1]
            .payload
            .get("request_id")
            .is_none()
    );
}

#[tokio::test]
async fn queries_report_version_health_and_executions() {
    let (standin, gw, token) = setup().await;
    let (_, body) = gql(&gw, &token, "{ health version }", json!({})).await;
    assert_eq!(
        body["data"],
        json!({"health": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    let (_, started) = gql(
        &gw,
        &token,
        BROWSER_MUTATION,
        json!({"name": SILENT, "vars": {"delay_ms": 60000}}),
    )
    .await;
    let id = started["data"]["executePlaybook"]["executionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, one) = gql(
        &gw,
        &token,
        "query($id: String!) { execution(id: $id) { executionId status path } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        one["data"]["execution"],
        json!({"executionId": id, "status": "RUNNING", "path": SILENT})
    );
    let (_, cancelled) = gql(
        &gw,
        &token,
        "mutation($id: String!) { cancelExecution(id: $id, reason: \"test\") }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(cancelled["data"]["cancelExecution"], true);
    let (_, list) = gql(
        &gw,
        &token,
        "{ executions(limit: 5) { executionId status } }",
        json!({}),
    )
    .await;
    assert_eq!(
        list["data"]["executions"][0],
        json!({"executionId": id, "status": "CANCELLED"})
    );
    standin.set_legacy_status(true);
    standin.finish(id.parse().unwrap(), "COMPLETED");
    let (_, legacy) = gql(
        &gw,
        &token,
        "query($id: String!) { execution(id: $id) { status } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        legacy["data"]["execution"]["status"], "COMPLETED",
        "older servers' flags are read too"
    );
}

#[tokio::test]
async fn errors_carry_stable_codes() {
    let (standin, gw, token) = setup().await;
    let (_, missing) = gql(
        &gw,
        &token,
        BROWSER_MUTATION,
        json!({"name": "tests/missing"}),
    )
    .await;
    assert_eq!(code(&missing), "PLAYBOOK_NOT_FOUND", "{missing}");
    let (_, bad) = gql(&gw, &token, BROWSER_MUTATION, json!({"name": "../etc"})).await;
    assert_eq!(code(&bad), "BAD_USER_INPUT", "{bad}");
    let (_, not_object) = gql(
        &gw,
        &token,
        BROWSER_MUTATION,
        json!({"name": ECHO, "vars": [1]}),
    )
    .await;
    assert_eq!(code(&not_object), "BAD_USER_INPUT");
    let (_, first) = gql(&gw, &token, BROWSER_MUTATION, json!({"name": ECHO})).await;
    let first_id = first["data"]["executePlaybook"]["executionId"].clone();
    let rerun_query = "mutation($id: String!) { rerunExecution(executionId: $id) { id name } }";
    let (_, rerun) = gql(&gw, &token, rerun_query, json!({"id": first_id})).await;
    assert_eq!(code(&rerun), "NOT_SUPPORTED", "{rerun}");
    standin.set_rerun_supported(true);
    let (_, rerun) = gql(&gw, &token, rerun_query, json!({"id": first_id})).await;
    assert_ne!(
        rerun["data"]["rerunExecution"]["id"], first_id,
        "a new execution: {rerun}"
    );
    assert_eq!(rerun["data"]["rerunExecution"]["name"], ECHO);
    let (_, unknown) = gql(&gw, &token, rerun_query, json!({"id": "1"})).await;
    assert_eq!(code(&unknown), "NOT_FOUND");
    let (_, syntax) = gql(&gw, &token, "{ health ", json!({})).await;
    assert_eq!(code(&syntax), "GRAPHQL_VALIDATION_FAILED", "{syntax}");

    let other = standin.add_session(22, "other@example.com", json!(["dev"]));
    gql(
        &gw,
        &token,
        BROWSER_MUTATION,
        json!({"name": ECHO, "clientId": "tab-owned"}),
    )
    .await;
    let (_, stolen) = gql(
        &gw,
        &other,
        BROWSER_MUTATION,
        json!({"name": ECHO, "clientId": "tab-owned"}),
    )
    .await;
    assert_eq!(
        code(&stolen),
        "FORBIDDEN",
        "a client id belongs to the session that first used it: {stolen}"
    );
}

#[tokio::test]
async fn without_a_session_graphql_answers_401_json() {
    let (_standin, gw, _) = setup().await;
    for request in [
        gw.http
            .post(gw.public("/graphql"))
            .json(&json!({"query": "{ health }"})),
        gw.http
            .post(gw.public("/graphql"))
            .bearer_auth("sess-unknown")
            .json(&json!({"query": "{ health }"})),
    ] {
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn noetl_down_is_backend_unavailable_within_the_timeout() {
    let (mut standin, gw, token) = setup().await;
    let (_, warm) = gql(&gw, &token, "{ health }", json!({})).await;
    assert_eq!(warm["data"]["health"], "ok");
    standin.stop().await;
    let started = Instant::now();
    let (status, body) = gql(&gw, &token, BROWSER_MUTATION, json!({"name": ECHO})).await;
    assert_eq!(status, 200);
    assert_eq!(code(&body), "BACKEND_UNAVAILABLE", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered within the configured bound: {:?}",
        started.elapsed()
    );
}

/// A query of `n` aliased `health` fields.
fn aliased_health(n: usize) -> String {
    let fields: Vec<String> = (0..n).map(|i| format!("a{i}: health")).collect();
    format!("{{ {} }}", fields.join(" "))
}

#[tokio::test]
async fn deep_aliased_and_huge_queries_are_refused() {
    let (_standin, gw, token) = setup().await;
    let nesting = ["__schema", "types", "fields", "type"]
        .into_iter()
        .chain(std::iter::repeat_n("ofType", 12));
    let opened: Vec<String> = nesting.map(|f| format!("{f} {{")).collect();
    let deep = format!(
        "{{ {} name {} }}",
        opened.join(" "),
        "}".repeat(opened.len())
    );
    let (_, body) = gql(&gw, &token, &deep, json!({})).await;
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("deep"),
        "{body}"
    );
    let aliased = aliased_health(40);
    let (_, body) = gql(&gw, &token, &aliased, json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");
    let huge = format!("{{ health # {} }}", "x".repeat(2 * 1024 * 1024));
    let resp = gw
        .http
        .post(gw.public("/graphql"))
        .bearer_auth(&token)
        .json(&json!({"query": huge}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn the_same_idempotency_key_starts_one_execution() {
    let (standin, gw, token) = setup().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let resp = gw
            .http
            .post(gw.public("/graphql"))
            .bearer_auth(&token)
            .header("idempotency-key", "order-42")
            .json(&json!({"query": BROWSER_MUTATION, "variables": {"name": SILENT, "vars": {"delay_ms": 60000}}}))
            .send()
            .await
            .unwrap();
        let body: Value = resp.json().await.unwrap();
        ids.push(
            body["data"]["executePlaybook"]["executionId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(
        standin.executions_of(SILENT).len(),
        1,
        "one execution at NoETL"
    );
    let query = "mutation { executePlaybook(name: \"tests/silent\", idempotencyKey: \"order-43\", variables: {delay_ms: 60000}) { executionId } }";
    let (_, a) = gql(&gw, &token, query, json!({})).await;
    let (_, b) = gql(&gw, &token, query, json!({})).await;
    assert_eq!(a["data"], b["data"], "the argument form works the same");
    assert_eq!(standin.executions_of(SILENT).len(), 2);
}

#[tokio::test]
async fn graphiql_is_served_on_get() {
    let (_standin, gw, _) = setup().await;
    let resp = gw.http.get(gw.public("/graphql")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection, initialised with `token`.
async fn connect(gw: &TestGateway, token: &str) -> Ws {
    let mut ws = open_socket(gw).await;
    let init = json!({"type": "connection_init", "payload": {"session_token": token}});
    ws.send(Message::text(init.to_string())).await.unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    ws
}

async fn subscribe(gw: &TestGateway, token: &str, variables: Value) -> Ws {
    let mut ws = connect(gw, token).await;
    let query = "subscription($c: String, $after: String) { executionEvents(clientId: $c, after: $after) { cursor method requestId status message data error } }";
    let message = json!({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}});
    ws.send(Message::text(message.to_string())).await.unwrap();
    ws
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn next_event(ws: &mut Ws) -> Value {
    let frame = next_json(ws).await;
    assert_eq!(frame["type"], "next", "{frame}");
    frame["payload"]["data"]["executionEvents"].clone()
}

#[tokio::test]
async fn a_subscription_started_first_receives_progress_and_result_and_a_resumed_one_only_what_it_missed()
 {
    let (_standin, gw, token) = setup().await;
    let mut ws = subscribe(&gw, &token, json!({"c": "tab-sub"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, started) = gql(
        &gw,
        &token,
        BROWSER_MUTATION,
        json!({"name": ECHO, "clientId": "tab-sub", "vars": {"k": "v"}}),
    )
    .await;
    let request_id = started["data"]["executePlaybook"]["requestId"]
        .as_str()
        .unwrap()
        .to_owned();

    let progress = next_event(&mut ws).await;
    assert_eq!(
        (progress["method"].as_str(), progress["requestId"].as_str()),
        (Some("playbook/progress"), Some(request_id.as_str()))
    );
    assert_eq!(progress["message"], "working");
    let state = next_event(&mut ws).await;
    assert_eq!(
        (state["method"].as_str(), state["status"].as_str()),
        (Some("playbook/state"), Some("completed"))
    );
    let result = next_event(&mut ws).await;
    assert_eq!(result["method"], "playbook/result");
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["data"]["echo"]["k"], "v");

    let mut resumed = subscribe(
        &gw,
        &token,
        json!({"c": "tab-sub", "after": progress["cursor"]}),
    )
    .await;
    assert_eq!(next_event(&mut resumed).await["cursor"], state["cursor"]);
    assert_eq!(next_event(&mut resumed).await["cursor"], result["cursor"]);
    let extra = tokio::time::timeout(Duration::from_millis(300), resumed.next()).await;
    assert!(extra.is_err(), "nothing is repeated: {extra:?}");

    let other = _standin.add_session(23, "x@example.com", json!(["dev"]));
    let mut intruder = connect(&gw, &other).await;
    let query = "subscription { executionEvents(clientId: \"tab-sub\") { cursor } }";
    let message = json!({"id": "1", "type": "subscribe", "payload": {"query": query}});
    intruder
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
    let refused = next_json(&mut intruder).await;
    let errors = if refused["type"] == "error" {
        &refused["payload"]
    } else {
        &refused["payload"]["errors"]
    };
    assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN", "{refused}");
}

#[tokio::test]
async fn a_resumed_subscription_hears_first_of_events_the_log_discarded() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| {
        raw.gateway_event_retention_secs = 1;
    })
    .await;
    let token = standin.add_session(22, "gap@example.com", json!([]));
    let run = |k: u32| {
        let vars = json!({"name": ECHO, "clientId": "tab-gone", "vars": {"k": k}});
        gql(&gw, &token, BROWSER_MUTATION, vars)
    };

    let mut ws = subscribe(&gw, &token, json!({"c": "tab-gone"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    run(1).await;
    let mut last = next_event(&mut ws).await;
    while last["method"] != "playbook/result" {
        last = next_event(&mut ws).await;
    }
    drop(ws);
    let after = last["cursor"].clone();

    let mut current = subscribe(&gw, &token, json!({"c": "tab-gone", "after": after})).await;
    let quiet = tokio::time::timeout(Duration::from_millis(300), current.next()).await;
    assert!(quiet.is_err(), "nothing was discarded yet: {quiet:?}");
    drop(current);

    let (_, second) = run(2).await;
    let request_id = second["data"]["executePlaybook"]["requestId"].clone();
    assert!(
        standin.posts_result_of(&request_id).await,
        "the second run reports while nobody is subscribed"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut late = subscribe(&gw, &token, json!({"c": "tab-gone", "after": after})).await;
    let notice = next_event(&mut late).await;
    assert_eq!(
        (notice["method"].as_str(), &notice["cursor"]),
        (Some("events/missed"), &after),
        "{notice}"
    );
}

#[tokio::test]
async fn a_websocket_outlives_the_idle_timeout() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| raw.gateway_idle_timeout_secs = 1).await;
    let token = standin.add_session(22, "ws@example.com", json!([]));
    let mut ws = connect(&gw, &token).await;
    // An upgraded connection has no HTTP request in flight; it is not an idle one.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    ws.send(Message::text(json!({"type": "ping"}).to_string()))
        .await
        .unwrap();
    let pong = next_json(&mut ws).await;
    assert_eq!(pong["type"], "pong", "{pong}");
}

/// The errors of a graphql-transport-ws answer to operation `id`: an `error` frame's payload,
/// or the `errors` of a `next` one (null when it carries none).
async fn operation_errors(ws: &mut Ws, id: &str) -> Value {
    let frame = next_json(ws).await;
    assert_eq!(frame["id"], id, "{frame}");
    if frame["type"] == "error" {
        frame["payload"].clone()
    } else {
        frame["payload"]["errors"].clone()
    }
}

#[tokio::test]
async fn the_query_limits_hold_over_the_websocket_as_over_post() {
    let (_standin, gw, token) = setup().await;
    let mut ws = connect(&gw, &token).await;
    let aliased = aliased_health(40);
    let message = json!({"id": "many", "type": "subscribe", "payload": {"query": aliased}});
    ws.send(Message::text(message.to_string())).await.unwrap();
    let errors = operation_errors(&mut ws, "many").await;
    assert_eq!(
        errors[0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{errors}"
    );

    // Within the limit, the same socket answers.
    let message =
        json!({"id": "few", "type": "subscribe", "payload": {"query": "{ a: health b: health }"}});
    ws.send(Message::text(message.to_string())).await.unwrap();
    let mut frame = next_json(&mut ws).await;
    while frame["id"] == "many" {
        assert_eq!(frame["type"], "complete", "{frame}");
        frame = next_json(&mut ws).await;
    }
    assert_eq!(
        (&frame["id"], &frame["type"]),
        (&json!("few"), &json!("next")),
        "{frame}"
    );
    assert_eq!(frame["payload"]["data"]["a"], "ok", "{frame}");
}

/// A graphql-transport-ws socket, not yet initialised.
async fn open_socket(gw: &TestGateway) -> Ws {
    let mut request = format!("ws://{}/graphql/ws", gw.app.public_addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// Reads `ws` until the gateway ends it (a close frame, the end, or an error), for at most
/// `within`; whether it ended.
async fn until_ended(ws: &mut Ws, within: Duration) -> bool {
    tokio::time::timeout(within, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_socket_that_never_initialises_is_closed_and_one_that_does_stays() {
    let (_standin, gw, token) = setup().await;
    let mut silent = open_socket(&gw).await;
    let mut joined = connect(&gw, &token).await;
    let started = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match silent.next().await {
                Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                other => panic!("the socket ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("a socket without connection_init is closed");
    assert_eq!(
        closed,
        Some(4408),
        "graphql-transport-ws's initialisation timeout"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9),
        "closed only after the wait: {waited:?}"
    );
    // The initialised one, quiet just as long, still answers.
    let message = json!({"id": "h", "type": "subscribe", "payload": {"query": "{ health }"}});
    joined
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
    let frame = next_json(&mut joined).await;
    assert_eq!(frame["payload"]["data"]["health"], "ok", "{frame}");
}

#[tokio::test]
async fn a_socket_message_over_the_body_limit_ends_the_socket() {
    let (_standin, gw, token) = setup().await;
    let mut ws = connect(&gw, &token).await;
    let huge = format!("{{ health # {} }}", "x".repeat(2 * 1024 * 1024));
    let message = json!({"id": "big", "type": "subscribe", "payload": {"query": huge}});
    let _ = ws.send(Message::text(message.to_string())).await;
    assert!(
        until_ended(&mut ws, Duration::from_secs(5)).await,
        "a 2 MiB message past the 1 MiB limit ends the socket"
    );
    // Others are not affected.
    let mut other = connect(&gw, &token).await;
    let message = json!({"id": "h", "type": "subscribe", "payload": {"query": "{ health }"}});
    other
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut other).await["payload"]["data"]["health"],
        "ok"
    );
}

/// The ids of the operations refused with TOO_MANY_REQUESTS among the frames `ws` gets
/// within `within`.
async fn refused_within(ws: &mut Ws, within: Duration) -> Vec<String> {
    let mut refused = Vec::new();
    let deadline = Instant::now() + within;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline.into(), ws.next()).await {
        let Message::Text(text) = frame else { continue };
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["payload"]["errors"][0]["extensions"]["code"] == "TOO_MANY_REQUESTS" {
            refused.push(frame["id"].as_str().unwrap().to_owned());
        }
    }
    refused
}

#[tokio::test]
async fn a_socket_runs_at_most_a_hundred_subscriptions_at_once() {
    let (_standin, gw, token) = setup().await;
    let mut ws = connect(&gw, &token).await;
    let query = "subscription($c: String) { executionEvents(clientId: $c) { cursor } }";
    let start = |id: usize| {
        let payload = json!({"query": query, "variables": {"c": format!("tab-{id}")}});
        Message::text(
            json!({"id": id.to_string(), "type": "subscribe", "payload": payload}).to_string(),
        )
    };
    for id in 0..=100 {
        ws.send(start(id)).await.unwrap();
    }
    let refused = refused_within(&mut ws, Duration::from_secs(1)).await;
    assert_eq!(refused.len(), 1, "one of 101 is refused: {refused:?}");
    // Completing one that runs makes room for another.
    let running = if refused[0] == "0" { "1" } else { "0" };
    let complete = json!({"id": running, "type": "complete"});
    ws.send(Message::text(complete.to_string())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws.send(start(200)).await.unwrap();
    let refused = refused_within(&mut ws, Duration::from_millis(500)).await;
    assert!(
        refused.is_empty(),
        "started after one completed: {refused:?}"
    );
}

#[tokio::test]
async fn subscriptions_and_sse_streams_share_the_sessions_bound() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| raw.gateway_max_streams_per_session = 2).await;
    let token = standin.add_session(22, "bound@example.com", json!([]));
    let mut ws = connect(&gw, &token).await;
    let query = "subscription($c: String) { executionEvents(clientId: $c) { cursor } }";
    for id in 0..3 {
        let payload = json!({"query": query, "variables": {"c": format!("tab-b{id}")}});
        let message = json!({"id": id.to_string(), "type": "subscribe", "payload": payload});
        ws.send(Message::text(message.to_string())).await.unwrap();
    }
    let refused = refused_within(&mut ws, Duration::from_secs(1)).await;
    assert_eq!(refused.len(), 1, "one of 3 is refused: {refused:?}");

    let sse = gw
        .http
        .get(gw.public(&format!("/events?session_token={token}&client_id=tab-b9")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sse.status(),
        429,
        "the subscriptions hold the session's places"
    );

    let running = if refused[0] == "0" { "1" } else { "0" };
    let complete = json!({"id": running, "type": "complete"});
    ws.send(Message::text(complete.to_string())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let payload = json!({"query": query, "variables": {"c": "tab-b5"}});
    let message = json!({"id": "5", "type": "subscribe", "payload": payload});
    ws.send(Message::text(message.to_string())).await.unwrap();
    let refused = refused_within(&mut ws, Duration::from_millis(500)).await;
    assert!(
        refused.is_empty(),
        "a completed one gave its place back: {refused:?}"
    );
}
