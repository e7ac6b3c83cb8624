//! Black-box tests of real-time results: SSE `/events`, the async callback routes, replay
//! with `Last-Event-ID` on any replica, the execution watcher, and the callback guards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::noetl::{ECHO, FAILING, SILENT, SILENT_FAILING};
use support::sse::{Frame, SseClient};
use support::{NatsServer, NoetlStandIn, TestGateway, base_raw_config};

async fn execute(gw: &TestGateway, token: &str, name: &str, client: &str, vars: Value) -> Value {
    let base = gw.public("");
    let body = support::execute_playbook(&gw.http, &base, token, name, client, vars).await;
    body["data"]["executePlaybook"].clone()
}

/// `client`'s event stream, resumed after `last_event_id` when given; nothing read yet.
async fn connect_events(
    gw: &TestGateway,
    token: &str,
    client: &str,
    last_event_id: Option<&str>,
) -> SseClient {
    let mut request = gw
        .http
        .get(gw.public(&format!("/events?session_token={token}&client_id={client}")));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    SseClient::connect(request).await
}

/// As `connect_events`, with the opening frame read and checked.
async fn open(
    gw: &TestGateway,
    token: &str,
    client: &str,
    last_event_id: Option<&str>,
) -> SseClient {
    let mut sse = connect_events(gw, token, client, last_event_id).await;
    let init = sse.next().await;
    assert_eq!(init.event, "message", "{init:?}");
    assert_eq!(init.data["result"]["clientId"], client);
    sse
}

/// The SSE id of the next result frame: where a client resumes after it.
async fn result_id(sse: &mut SseClient) -> Option<String> {
    loop {
        let frame = sse.next_event().await;
        if frame.event == "playbook/result" {
            return frame.id;
        }
    }
}

fn params(frame: &Frame) -> &Value {
    &frame.data["params"]
}

/// Gateways sharing one nats-server, all connected to it, and a session valid on each.
struct OnNats {
    nats: NatsServer,
    _standin: NoetlStandIn,
    gateways: Vec<TestGateway>,
    token: String,
}

async fn on_nats(replicas: usize, user_id: i64, email: &str) -> OnNats {
    let nats = NatsServer::start();
    let standin = NoetlStandIn::start().await;
    let mut gateways = Vec::new();
    for _ in 0..replicas {
        let gw = TestGateway::start(base_raw_config(&standin.base_url(), Some(&nats.url()))).await;
        gateways.push(gw);
    }
    let token = standin.add_session(user_id, email, json!([]));
    for gw in &gateways {
        gw.wait_nats_connected().await;
    }
    OnNats {
        nats,
        _standin: standin,
        gateways,
        token,
    }
}

#[tokio::test]
async fn the_browser_flow_receives_progress_then_state_then_result() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |_| {}).await;
    let token = standin.add_session(31, "sse@example.com", json!(["admin"]));

    let mut sse = SseClient::connect(
        gw.http
            .get(gw.public(&format!("/events?session_token={token}"))),
    )
    .await;
    assert_eq!(sse.status, 200);
    let init = sse.next().await;
    assert_eq!(init.event, "message");
    assert_eq!(init.data["jsonrpc"], "2.0");
    assert_eq!(init.data["result"]["protocolVersion"], "2024-11-05");
    assert_eq!(init.data["result"]["serverInfo"]["name"], "noetl-gateway");
    assert_eq!(
        init.data["result"]["capabilities"],
        json!({"playbooks": true, "callbacks": true})
    );
    let client = init.data["result"]["clientId"].as_str().unwrap().to_owned();

    let started = execute(&gw, &token, ECHO, &client, json!({"n": 1})).await;
    let request_id = started["requestId"].as_str().unwrap();
    let progress = sse.next_event().await;
    assert_eq!(progress.event, "playbook/progress");
    assert_eq!(progress.data["method"], "playbook/progress");
    assert_eq!(params(&progress)["requestId"], request_id);
    assert_eq!(params(&progress)["progress"], 50);
    let state = sse.next_event().await;
    assert_eq!(
        state.event, "playbook/state",
        "state comes before its result"
    );
    assert_eq!(params(&state)["event_type"], "playbook.completed");
    assert_eq!(params(&state)["status"], "completed");
    assert_eq!(params(&state)["execution_id"], started["executionId"]);
    let result = sse.next_event().await;
    assert_eq!(result.event, "playbook/result");
    assert_eq!(params(&result)["requestId"], request_id);
    assert_eq!(params(&result)["status"], "COMPLETED");
    assert_eq!(params(&result)["data"]["echo"]["n"], 1);
    for frame in [&progress, &state, &result] {
        assert!(
            frame
                .id
                .as_deref()
                .is_some_and(|id| id.parse::<u64>().is_ok()),
            "every frame has an id: {frame:?}"
        );
    }

    let failed = execute(&gw, &token, FAILING, &client, json!({})).await;
    let _state = sse.next_event().await;
    let result = sse.next_event().await;
    assert_eq!(params(&result)["requestId"], failed["requestId"]);
    assert_eq!(params(&result)["status"], "FAILED");
    assert_eq!(params(&result)["error"]["code"], -32000);
    assert_eq!(params(&result)["error"]["message"], "step boom failed");
}

#[tokio::test]
async fn an_invalid_session_gets_one_error_frame() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |_| {}).await;
    let mut sse =
        SseClient::connect(gw.http.get(gw.public("/events?session_token=sess-nope"))).await;
    assert_eq!(sse.status, 200);
    let frame = sse.next().await;
    assert_eq!(frame.event, "error");
    assert_eq!(frame.data["error"]["code"], -32002);
    assert!(
        sse.next_within(Duration::from_secs(2)).await.is_none(),
        "and the stream ends"
    );

    let owner = standin.add_session(32, "a@example.com", json!([]));
    let other = standin.add_session(33, "b@example.com", json!([]));
    let _mine = open(&gw, &owner, "tab-owned", None).await;
    let mut stolen = SseClient::connect(
        gw.http
            .get(gw.public("/events?client_id=tab-owned"))
            .header("cookie", format!("session_token={other}")),
    )
    .await;
    let frame = stolen.next().await;
    assert_eq!(
        (frame.event.as_str(), frame.data["error"]["code"].as_i64()),
        ("error", Some(-32003)),
        "another session cannot attach"
    );
}

#[tokio::test]
async fn a_silent_playbooks_result_comes_from_the_watcher() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| {
        raw.gateway_watch_interval_ms = 200;
        raw.gateway_watch_grace_secs = 0;
    })
    .await;
    let token = standin.add_session(34, "w@example.com", json!([]));
    let mut sse = open(&gw, &token, "tab-watch", None).await;
    let ok = execute(&gw, &token, SILENT, "tab-watch", json!({"delay_ms": 300})).await;
    let state = sse.next_event().await;
    assert_eq!(
        (state.event.as_str(), params(&state)["status"].as_str()),
        ("playbook/state", Some("completed"))
    );
    let result = sse.next_event().await;
    assert_eq!(params(&result)["requestId"], ok["requestId"]);
    assert_eq!(params(&result)["status"], "COMPLETED");
    assert_eq!(
        params(&result)["data"],
        json!({"answer": 42}),
        "the last step's output"
    );

    let bad = execute(
        &gw,
        &token,
        SILENT_FAILING,
        "tab-watch",
        json!({"delay_ms": 300}),
    )
    .await;
    let state = sse.next_event().await;
    assert_eq!(params(&state)["status"], "failed");
    let result = sse.next_event().await;
    assert_eq!(params(&result)["requestId"], bad["requestId"]);
    assert_eq!(params(&result)["status"], "FAILED");
    assert_eq!(params(&result)["error"]["message"], "step final failed");
    assert!(
        sse.next_within(Duration::from_millis(1500))
            .await
            .is_none_or(|f| f.event == "ping"),
        "a result is never sent twice"
    );
}

#[tokio::test]
async fn results_cross_replicas_and_survive_a_disconnect_and_a_replica_restart() {
    let nats = NatsServer::start();
    let standin = NoetlStandIn::start().await;
    let b = TestGateway::start(base_raw_config(&standin.base_url(), Some(&nats.url()))).await;
    let mut raw = base_raw_config(&standin.base_url(), Some(&nats.url()));
    raw.gateway_internal_url = format!("http://{}", b.app.internal_addr).as_str().into();
    let a = TestGateway::start(raw).await;
    let token = standin.add_session(35, "x@example.com", json!([]));
    a.wait_nats_connected().await;

    let mut on_a = open(&a, &token, "tab-x", None).await;
    execute(&a, &token, ECHO, "tab-x", json!({"k": 0})).await;
    let mut last = String::new();
    for want in ["playbook/progress", "playbook/state", "playbook/result"] {
        let frame = on_a.next_event().await;
        assert_eq!(
            frame.event, want,
            "a callback posted to B reaches the client on A"
        );
        last = frame.id.unwrap();
    }
    drop(on_a);

    let mut request_ids = Vec::new();
    for k in 1..=3 {
        request_ids
            .push(execute(&a, &token, ECHO, "tab-x", json!({"k": k})).await["requestId"].clone());
    }
    assert!(
        support::eventually(Duration::from_secs(10), || async {
            standin.callbacks().len() >= 8
        })
        .await
    );
    let queued = standin
        .callbacks()
        .iter()
        .filter(|c| {
            c.url.ends_with("/callback/async") && request_ids.contains(&c.body["request_id"])
        })
        .map(|c| (c.status, c.answer["status"].clone()))
        .collect::<Vec<_>>();
    assert_eq!(
        queued,
        vec![(202, json!("queued")); 3],
        "with the client away, results are queued (202)"
    );

    drop(b);
    let b2 = TestGateway::start(base_raw_config(&standin.base_url(), Some(&nats.url()))).await;
    b2.wait_nats_connected().await;
    let mut on_b = open(&b2, &token, "tab-x", Some(&last)).await;
    let mut results = Vec::new();
    loop {
        match on_b.next_within(Duration::from_secs(2)).await {
            Some(f) if f.event == "playbook/result" => {
                results.push(params(&f)["requestId"].clone())
            }
            Some(_) => {}
            None => break,
        }
    }
    assert_eq!(
        results, request_ids,
        "exactly the three missed results, in order, once, on another replica"
    );
}

#[tokio::test]
async fn callback_routes_refuse_what_they_must() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| {
        raw.gateway_callback_secret = "cb-secret".into();
    })
    .await;
    let post = |path: &str, body: &str, secret: Option<&str>, public: bool| {
        let url = if public {
            gw.public(path)
        } else {
            gw.internal(path)
        };
        let mut req = gw
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(s) = secret {
            req = req.bearer_auth(s);
        }
        async move {
            let resp = req.send().await.unwrap();
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let unknown = r#"{"request_id": "no-such-request", "status": "COMPLETED"}"#;
    let (status, body) = post(
        "/api/internal/callback/async",
        unknown,
        Some("cb-secret"),
        false,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("Request not found"))
    );
    let (status, _) = post(
        "/api/internal/progress",
        r#"{"request_id": "no-such-request"}"#,
        Some("cb-secret"),
        false,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post(
        "/api/internal/callback/async",
        unknown,
        Some("cb-secret"),
        true,
    )
    .await;
    assert_eq!(status, 404, "not served on the public listener");
    let (status, body) = post(
        "/api/internal/callback/async",
        unknown,
        Some("wrong"),
        false,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    let (status, _) = post("/api/internal/progress", unknown, None, false).await;
    assert_eq!(status, 401);
    for malformed in [
        "{",
        r#"{"status": "COMPLETED"}"#,
        r#"{"request_id": "r1", "status": "DONE-ISH"}"#,
    ] {
        let (status, body) = post(
            "/api/internal/callback/async",
            malformed,
            Some("cb-secret"),
            false,
        )
        .await;
        assert_eq!(status, 400, "{malformed}");
        assert!(body["code"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn ten_thousand_callbacks_reach_a_hundred_clients_each_frame_once() {
    let shared = on_nats(1, 36, "load@example.com").await;
    let (gw, token) = (&shared.gateways[0], &shared.token);
    let mut clients = Vec::new();
    for c in 0..100 {
        let client = format!("load-{c}");
        let started = execute(gw, token, SILENT, &client, json!({"delay_ms": 600000})).await;
        clients.push((client, started["requestId"].as_str().unwrap().to_owned()));
    }
    let mut readers = Vec::new();
    for (i, (client, _)) in clients.iter().enumerate() {
        let sse = open(gw, token, client, None).await;
        let slow = i == 0;
        let http = gw.http.clone();
        let url = gw.public(&format!("/events?session_token={token}&client_id={client}"));
        readers.push(tokio::spawn(async move {
            let mut sse = sse;
            let mut seen = Vec::new();
            let mut last_id: Option<String> = None;
            let mut resumed = 0;
            while seen.len() < 100 {
                let Some(frame) = sse.next_within(Duration::from_secs(60)).await else {
                    // The gateway ends a stream it cannot read the log for (with a
                    // reconnect hint); like an EventSource, resume from the last frame.
                    if resumed == 5 {
                        break;
                    }
                    resumed += 1;
                    let mut request = http.get(&url);
                    if let Some(id) = &last_id {
                        request = request.header("last-event-id", id);
                    }
                    sse = SseClient::connect(request).await;
                    continue;
                };
                // The opening frame names the client; every later frame's id is a cursor.
                if frame.event != "message"
                    && let Some(id) = &frame.id
                {
                    last_id = Some(id.clone());
                }
                if frame.event == "playbook/progress" {
                    seen.push(frame.data["params"]["progress"].as_u64().unwrap());
                    if slow {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            seen
        }));
    }
    let sender = {
        let http = gw.http.clone();
        let url = gw.internal("/api/internal/progress");
        let clients = clients.clone();
        tokio::spawn(async move {
            for n in 0..100u64 {
                let mut batch = Vec::new();
                for (_, request_id) in &clients {
                    let body = json!({"request_id": request_id, "progress": n});
                    batch.push(http.post(&url).json(&body).send());
                }
                for resp in futures_util::future::join_all(batch).await {
                    assert!(resp.unwrap().status().is_success());
                }
            }
        })
    };
    sender.await.unwrap();
    for reader in readers {
        let seen = reader.await.unwrap();
        assert_eq!(
            seen,
            (0..100).collect::<Vec<u64>>(),
            "every frame, in order, once"
        );
    }
}

#[tokio::test]
async fn on_shutdown_open_streams_are_told_to_reconnect_with_their_cursor() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |_| {}).await;
    let token = standin.add_session(37, "bye@example.com", json!([]));
    let mut sse = open(&gw, &token, "tab-bye", None).await;
    execute(&gw, &token, ECHO, "tab-bye", json!({})).await;
    let mut last = String::new();
    for _ in 0..3 {
        last = sse.next_event().await.id.unwrap();
    }
    let TestGateway { app, .. } = gw;
    let shutdown = tokio::spawn(app.shutdown());
    let retry = sse.next_event().await;
    assert_eq!(retry.retry, Some(1000), "a retry hint first: {retry:?}");
    let bye = sse.next_event().await;
    assert_eq!(bye.event, "reconnect");
    assert_eq!(bye.data["params"]["lastEventId"], last.as_str());
    assert!(
        sse.next_within(Duration::from_secs(2)).await.is_none(),
        "then the stream ends"
    );
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_entry_the_gateway_cannot_read_is_skipped_not_a_dead_end() {
    let shared = on_nats(1, 36, "odd@example.com").await;
    let (gw, token) = (&shared.gateways[0], &shared.token);

    let mut sse = open(gw, token, "tab-odd", None).await;
    let nats_client = async_nats::connect(shared.nats.url()).await.unwrap();
    for payload in ["not json", r#"{"kind":"from_a_newer_version","x":1}"#] {
        nats_client
            .publish("playbooks.executions.client.tab-odd", payload.into())
            .await
            .unwrap();
    }
    nats_client.flush().await.unwrap();
    let started = execute(gw, token, ECHO, "tab-odd", json!({"n": 7})).await;
    let mut seen = Vec::new();
    while let Some(frame) = sse.next_within(Duration::from_secs(5)).await {
        if frame.event == "ping" {
            continue;
        }
        let done = frame.event == "playbook/result";
        seen.push(frame);
        if done {
            break;
        }
    }
    let events: Vec<&str> = seen.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(
        events,
        ["playbook/progress", "playbook/state", "playbook/result"],
        "the live stream goes on past the unreadable entries"
    );
    assert_eq!(params(&seen[2])["requestId"], started["requestId"]);

    drop(sse);
    let mut again = open(gw, token, "tab-odd", Some("1")).await;
    let replayed = again.next_event().await;
    assert_eq!(
        replayed.event, "playbook/progress",
        "a replay from before them skips them too"
    );
}

#[tokio::test]
async fn a_newer_stream_on_another_replica_replaces_the_older_one() {
    let shared = on_nats(2, 37, "tabs@example.com").await;
    let (a, b, token) = (&shared.gateways[0], &shared.gateways[1], &shared.token);

    let mut older = open(a, token, "tab-r", None).await;
    let mut newer = open(b, token, "tab-r", None).await;
    let mut told = Vec::new();
    while let Some(frame) = older.next_within(Duration::from_secs(5)).await {
        told.push(frame);
    }
    let last = told
        .last()
        .expect("the older stream is told before it ends");
    assert_eq!(last.event, "reconnect", "{told:?}");
    assert!(
        told.iter().any(|f| f.retry.is_some()),
        "with a retry hint: {told:?}"
    );

    let started = execute(b, token, ECHO, "tab-r", json!({"n": 9})).await;
    let mut events = Vec::new();
    while let Some(frame) = newer.next_within(Duration::from_secs(5)).await {
        events.push(frame.event.clone());
        if frame.event == "playbook/result" {
            assert_eq!(params(&frame)["requestId"], started["requestId"]);
            break;
        }
    }
    assert_eq!(
        events,
        ["playbook/progress", "playbook/state", "playbook/result"],
        "the newer stream stays and gets what follows"
    );
}

#[tokio::test]
async fn a_stream_with_a_generated_client_id_is_replaced_from_another_replica_too() {
    let shared = on_nats(2, 39, "fresh@example.com").await;
    let (a, b, token) = (&shared.gateways[0], &shared.gateways[1], &shared.token);

    let mut first = SseClient::connect(
        a.http
            .get(a.public(&format!("/events?session_token={token}"))),
    )
    .await;
    let init = first.next().await;
    let client = init.data["result"]["clientId"].as_str().unwrap().to_owned();
    let _again = open(b, token, &client, None).await;
    let mut told = Vec::new();
    while let Some(frame) = first.next_within(Duration::from_secs(5)).await {
        told.push(frame.event);
    }
    assert_eq!(
        told.last().map(String::as_str),
        Some("reconnect"),
        "{told:?}"
    );
}

#[tokio::test]
async fn a_resume_from_before_events_the_log_discarded_is_told_it_missed_some() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| {
        raw.gateway_event_retention_secs = 1;
    })
    .await;
    let token = standin.add_session(41, "gap@example.com", json!([]));
    let init = |sse_init: &Frame| sse_init.data["result"].get("missedEvents").cloned();

    let mut sse = connect_events(&gw, &token, "tab-gap", None).await;
    assert_eq!(
        init(&sse.next().await),
        None,
        "a fresh stream resumes nothing"
    );
    execute(&gw, &token, ECHO, "tab-gap", json!({"k": 1})).await;
    let last = result_id(&mut sse).await;
    drop(sse);

    let mut back = connect_events(&gw, &token, "tab-gap", last.as_deref()).await;
    assert_eq!(
        init(&back.next().await),
        Some(json!(false)),
        "nothing was discarded after the client's last event"
    );
    drop(back);

    let second = execute(&gw, &token, ECHO, "tab-gap", json!({"k": 2})).await["requestId"].clone();
    assert!(
        standin.posts_result_of(&second).await,
        "the second run reports while the client is away"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut late = connect_events(&gw, &token, "tab-gap", last.as_deref()).await;
    assert_eq!(
        init(&late.next().await),
        Some(json!(true)),
        "the second run's events aged out before the client came back"
    );
    assert!(
        late.next_within(Duration::from_millis(500))
            .await
            .is_none_or(|f| f.event != "playbook/result"),
        "and they are not replayed"
    );
}

#[tokio::test]
async fn with_nats_away_a_resume_is_not_told_what_this_replica_cannot_know() {
    let mut env = on_nats(1, 44, "away@example.com").await;
    let gw = &env.gateways[0];
    let mut sse = open(gw, &env.token, "tab-away", None).await;
    execute(gw, &env.token, ECHO, "tab-away", json!({"k": 1})).await;
    let last = result_id(&mut sse).await;
    drop(sse);
    let mut present = connect_events(gw, &env.token, "tab-away", last.as_deref()).await;
    let init = present.next().await;
    assert_eq!(
        init.data["result"]["missedEvents"],
        json!(false),
        "with NATS there, the shared log answers: {init:?}"
    );
    drop(present);

    env.nats.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut away = connect_events(gw, &env.token, "tab-away", last.as_deref()).await;
    let init = away.next().await;
    assert_eq!(
        init.event, "message",
        "the stream opens on this replica's log: {init:?}"
    );
    assert!(
        init.data["result"].get("missedEvents").is_none(),
        "the local log cannot say what the shared one discarded: {init:?}"
    );
}

#[tokio::test]
async fn a_stream_the_shared_log_cannot_serve_is_told_to_reconnect_not_refused() {
    let env = on_nats(1, 45, "stalled@example.com").await;
    let gw = &env.gateways[0];
    let mut sse = open(gw, &env.token, "tab-stalled", None).await;
    execute(gw, &env.token, ECHO, "tab-stalled", json!({"k": 1})).await;
    let last = result_id(&mut sse).await.expect("a result with an id");
    drop(sse);

    // Connected, but nothing answers: the shared store is retried for its whole patience.
    env.nats.pause();
    let patient = reqwest::Client::new();
    let request = patient
        .get(gw.public(&format!(
            "/events?session_token={}&client_id=tab-stalled",
            env.token
        )))
        .header("last-event-id", &last);
    let mut stalled = SseClient::connect(request).await;
    assert_eq!(
        stalled.status, 200,
        "an error status ends EventSource for good"
    );
    let retry = stalled
        .next_within(Duration::from_secs(40))
        .await
        .expect("a frame before the stream ends");
    assert_eq!(retry.retry, Some(1000), "a retry hint first: {retry:?}");
    let bye = stalled.next().await;
    assert_eq!(bye.event, "reconnect", "{bye:?}");
    assert_eq!(bye.data["params"]["lastEventId"], last.as_str());
    assert!(
        stalled.next_within(Duration::from_secs(2)).await.is_none(),
        "then the stream ends"
    );

    env.nats.resume();
    let mut back = connect_events(gw, &env.token, "tab-stalled", Some(&last)).await;
    let init = back.next_within(Duration::from_secs(30)).await;
    assert_eq!(
        init.map(|f| f.event),
        Some("message".to_owned()),
        "once NATS answers, the reconnect opens the stream"
    );
}

#[tokio::test]
async fn a_session_that_cannot_be_checked_is_told_to_reconnect_not_refused() {
    let mut standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |_| {}).await;
    let token = standin.add_session(46, "unchecked@example.com", json!([]));
    let refused = |gw: &TestGateway| {
        let request = gw.http.get(gw.public("/events?session_token=sess-nope"));
        async move {
            let frame = SseClient::connect(request).await.next().await;
            (frame.event, frame.data["error"]["code"].as_i64())
        }
    };
    assert_eq!(refused(&gw).await, ("error".to_owned(), Some(-32002)));
    standin.stop().await;

    let mut sse = SseClient::connect(
        gw.http
            .get(gw.public(&format!(
                "/events?session_token={token}&client_id=tab-unchecked"
            )))
            .header("last-event-id", "7"),
    )
    .await;
    assert_eq!(sse.status, 200, "an error status ends EventSource for good");
    let retry = sse.next().await;
    assert_eq!(retry.retry, Some(1000), "a retry hint first: {retry:?}");
    let bye = sse.next().await;
    assert_eq!(bye.event, "reconnect", "{bye:?}");
    assert_eq!(bye.data["params"]["lastEventId"], "7");
    assert!(
        sse.next_within(Duration::from_secs(2)).await.is_none(),
        "then the stream ends"
    );

    assert_eq!(
        refused(&gw).await,
        ("error".to_owned(), Some(-32002)),
        "a session already known to be invalid is still refused"
    );
}

#[tokio::test]
async fn a_session_holds_at_most_its_bound_of_streams_and_may_still_reopen_one() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| {
        raw.gateway_max_streams_per_session = 2;
        raw.gateway_heartbeat_interval_secs = 1;
    })
    .await;
    let token = standin.add_session(41, "many@example.com", json!([]));
    let other = standin.add_session(42, "other@example.com", json!([]));
    let mut first = open(&gw, &token, "tab-q1", None).await;
    let second = open(&gw, &token, "tab-q2", None).await;

    let over = gw
        .http
        .get(gw.public(&format!("/events?session_token={token}&client_id=tab-q3")))
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), 429);
    assert_eq!(
        over.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["code"], "TOO_MANY_REQUESTS", "{body}");
    assert!(body["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(
        gw.metrics_text()
            .await
            .contains("gateway_streams_refused_total 1"),
        "the refusal is counted"
    );

    // Another session is not affected, and a reopened client id replaces its older stream.
    let _others = open(&gw, &other, "tab-o1", None).await;
    let _again = open(&gw, &token, "tab-q1", None).await;
    let mut told = Vec::new();
    while let Some(frame) = first.next_within(Duration::from_secs(5)).await {
        told.push(frame.event);
    }
    assert_eq!(
        told.last().map(String::as_str),
        Some("reconnect"),
        "{told:?}"
    );

    // A closed stream gives its place back.
    drop(second);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let sse = connect_events(&gw, &token, "tab-q3", None).await;
        if sse.status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed stream's place came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_reopened_stream_lists_its_clients_pending_requests_and_a_new_client_none() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |_| {}).await;
    let token = standin.add_session(43, "pending@example.com", json!([]));
    let first = open(&gw, &token, "tab-p", None).await;
    let started = execute(&gw, &token, SILENT, "tab-p", json!({"delay_ms": 60_000})).await;
    drop(first);

    let mut again = connect_events(&gw, &token, "tab-p", None).await;
    let init = again.next().await;
    let pending = init.data["result"]["pendingRequests"].clone();
    assert_eq!(
        pending,
        json!([{
            "requestId": started["requestId"],
            "executionId": started["executionId"],
            "playbookPath": SILENT,
        }]),
        "{init:?}"
    );

    let mut fresh = SseClient::connect(
        gw.http
            .get(gw.public(&format!("/events?session_token={token}"))),
    )
    .await;
    let init = fresh.next().await;
    assert_eq!(
        init.data["result"]["pendingRequests"],
        json!([]),
        "{init:?}"
    );
}
