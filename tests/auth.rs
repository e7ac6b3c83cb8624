//! Black-box tests of the auth routes against the NoETL stand-in, in both auth modes
//! (playbooks with callbacks, and NoETL's synchronous routes): the same expectations hold.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::noetl::{CHECK_ACCESS, LOGIN};
use support::{NoetlStandIn, TestGateway, eventually};

async fn gateway(standin: &NoetlStandIn, mode: &str) -> TestGateway {
    TestGateway::beside(standin, |raw| {
        raw.gateway_auth_mode = mode.into();
    })
    .await
}

async fn login(gw: &TestGateway, auth0_token: &str) -> (u16, Value) {
    gw.post_json(
        "/api/auth/login",
        json!({"auth0_token": auth0_token, "auth0_domain": "example.auth0.com"}),
    )
    .await
}

async fn validate(gw: &TestGateway, token: &str) -> Value {
    let (status, body) = gw
        .post_json("/api/auth/validate", json!({"session_token": token}))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn login_logout_validate_and_access(mode: &str) {
    let standin = NoetlStandIn::start().await;
    let gw = gateway(&standin, mode).await;

    let (status, body) = login(&gw, "good:7:ada@example.com").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "authenticated");
    assert_eq!(body["message"], "Authentication successful");
    assert_eq!(body["user"]["user_id"], 7);
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(
        body["user"]["roles"],
        json!(["admin", "developer"]),
        "a Postgres array literal arrives as a list"
    );
    let expires_at = body["expires_at"].as_str().unwrap();
    assert!(
        expires_at.ends_with("+00") && expires_at.contains(' '),
        "expires_at is handed back as it came: {expires_at}"
    );
    let token = body["session_token"].as_str().unwrap().to_owned();

    let valid = validate(&gw, &token).await;
    assert_eq!(valid["valid"], true);
    assert_eq!(valid["user"]["user_id"], 7);
    assert_eq!(valid["expires_at"], expires_at);
    assert_eq!(valid["message"], "Session is valid");

    let unknown = validate(&gw, "sess-unknown").await;
    assert_eq!(
        unknown,
        json!({"valid": false, "user": null, "expires_at": null, "message": "Session is invalid or expired"})
    );

    let expired = standin.add_session(9, "old@example.com", json!(["dev"]));
    standin.set_session_expires_at(&expired, "2020-01-01 00:00:00.000000+00");
    assert_eq!(
        validate(&gw, &expired).await["valid"],
        false,
        "an expired session is invalid whatever NoETL says"
    );

    let (status, allowed) =
        gw.post_json("/api/auth/check-access", json!({"session_token": token, "playbook_path": "tests/echo", "permission_type": "execute"})).await;
    assert_eq!(status, 200, "{allowed}");
    assert_eq!(allowed["allowed"], true, "{allowed}");
    assert_eq!(allowed["playbook_path"], "tests/echo");
    assert_eq!(allowed["permission_type"], "execute");

    let plain = standin.add_session(10, "bob@example.com", json!("developer"));
    let (_, denied) =
        gw.post_json("/api/auth/check-access", json!({"session_token": plain, "playbook_path": "admin/reset", "permission_type": "modify"})).await;
    assert_eq!(denied["allowed"], false, "{denied}");
    let (_, public) = gw
        .post_json(
            "/api/auth/check-access",
            json!({"session_token": plain, "playbook_path": "public/report"}),
        )
        .await;
    assert_eq!(public["allowed"], true, "{public}");
    assert_eq!(
        public["permission_type"], "execute",
        "execute is the default permission"
    );
    let (_, no_session) = gw
        .post_json(
            "/api/auth/check-access",
            json!({"session_token": "nope", "playbook_path": "public/report"}),
        )
        .await;
    assert_eq!(no_session["allowed"], false);

    let (status, out) = gw
        .post_json("/api/auth/logout", json!({"session_token": token}))
        .await;
    assert_eq!((status, out["status"].as_str()), (200, Some("logged_out")));
    assert_eq!(
        validate(&gw, &token).await["valid"],
        false,
        "a logged-out session is invalid"
    );
    let (status, _) = gw
        .post_json(
            "/api/auth/logout",
            json!({"session_token": "never-existed"}),
        )
        .await;
    assert_eq!(
        status, 200,
        "logout answers 200 whether or not the session existed"
    );

    let (status, refused) = login(&gw, "bad-token").await;
    assert_eq!(status, 401, "{refused}");
    assert_eq!(refused["error"], "Invalid Auth0 token");
    assert_eq!(refused["code"], "UNAUTHENTICATED");
    assert!(refused["request_id"].is_string());
}

#[tokio::test]
async fn playbook_mode_logs_in_validates_checks_access_and_logs_out() {
    login_logout_validate_and_access("playbook").await;
}

#[tokio::test]
async fn direct_mode_gives_the_same_answers() {
    login_logout_validate_and_access("direct").await;
}

#[tokio::test]
async fn playbook_mode_runs_the_playbooks_with_request_id_and_gateway_url() {
    let standin = NoetlStandIn::start().await;
    let gw = gateway(&standin, "playbook").await;
    let (status, body) = login(&gw, "good").await;
    assert_eq!(status, 200);
    let token = body["session_token"].as_str().unwrap();
    let started = standin.executions_of(LOGIN);
    assert_eq!(started.len(), 1);
    let payload = &started[0].payload;
    assert_eq!(payload["auth0_token"], "good");
    assert_eq!(payload["auth0_domain"], "example.auth0.com");
    assert!(
        payload["request_id"]
            .as_str()
            .is_some_and(|r| r.len() == 36)
    );
    assert_eq!(
        payload["gateway_url"],
        format!("http://{}", gw.app.internal_addr)
    );
    let callback = standin.first_callback().await;
    assert_eq!(callback.answer["delivered"], true, "{:?}", callback);

    gw.post_json(
        "/api/auth/check-access",
        json!({"session_token": token, "playbook_path": "tests/echo"}),
    )
    .await;
    let check = &standin.executions_of(CHECK_ACCESS)[0].payload;
    for key in [
        "session_token",
        "playbook_path",
        "action",
        "request_id",
        "gateway_url",
    ] {
        assert!(
            check.get(key).is_some(),
            "check-access variables carry {key}: {check}"
        );
    }
}

#[tokio::test]
async fn a_login_whose_playbook_never_calls_back_answers_503_and_cancels_the_execution() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| {
        raw.auth_playbook_timeout_secs = 1;
    })
    .await;
    let resp = gw
        .http
        .post(gw.public("/api/auth/login"))
        .json(&json!({"auth0_token": "silent"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(
        resp.headers().get("retry-after").is_some(),
        "a retry hint is given"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "BACKEND_TIMEOUT");
    let execution = standin.executions_of(LOGIN)[0].id;
    let cancelled = eventually(Duration::from_secs(5), || async {
        standin
            .calls_to(&format!("/api/executions/{execution}/cancel"))
            .len()
            == 1
    })
    .await;
    assert!(cancelled, "the abandoned execution is cancelled");
}

#[tokio::test]
async fn the_validate_playbook_is_used_when_configured() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| {
        raw.auth_playbook_validate_session = support::noetl::VALIDATE.into();
    })
    .await;
    let token = standin.add_session(3, "c@example.com", json!(["dev"]));
    assert_eq!(validate(&gw, &token).await["valid"], true);
    assert_eq!(validate(&gw, "sess-nobody").await["valid"], false);
    assert_eq!(standin.executions_of(support::noetl::VALIDATE).len(), 2);
    assert!(
        standin.calls_to("/api/auth/session/validate").is_empty(),
        "the session route is not used"
    );
}

#[tokio::test]
async fn forged_login_callbacks_are_refused_and_nothing_is_cached() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| {
        raw.auth_playbook_timeout_secs = 3;
    })
    .await;
    let pending = {
        let http = gw.http.clone();
        let url = gw.public("/api/auth/login");
        tokio::spawn(async move {
            http.post(url)
                .json(&json!({"auth0_token": "silent"}))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    assert!(
        eventually(Duration::from_secs(3), || async {
            !standin.executions_of(LOGIN).is_empty()
        })
        .await
    );
    let execution = &standin.executions_of(LOGIN)[0];
    let request_id = execution.payload["request_id"].as_str().unwrap().to_owned();
    let forged_session = json!({"status": "authenticated", "session_token": "sess-forged",
        "user": {"user_id": 1, "email": "evil@example.com", "display_name": "Evil", "roles": ["admin"]},
        "expires_at": "2099-01-01T00:00:00Z"});
    let callback = |body: Value| {
        let http = gw.http.clone();
        let url = gw.internal("/api/internal/callback");
        async move {
            let resp = http.post(url).json(&body).send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };

    let (status, unknown) = callback(json!({"request_id": "00000000-0000-4000-8000-000000000000",
        "status": "success", "data": forged_session}))
    .await;
    assert_eq!(
        (status, unknown["delivered"].as_bool()),
        (200, Some(false)),
        "unknown request_id: {unknown}"
    );

    let (_, wrong_exec) = callback(
        json!({"request_id": request_id, "execution_id": execution.id + 1,
        "status": "success", "data": forged_session}),
    )
    .await;
    assert_eq!(
        wrong_exec["delivered"], false,
        "wrong execution_id: {wrong_exec}"
    );

    let (_, unconfirmed) = callback(
        json!({"request_id": request_id, "execution_id": execution.id.to_string(),
        "status": "success", "data": forged_session}),
    )
    .await;
    assert_eq!(
        unconfirmed["delivered"], false,
        "a session NoETL does not know: {unconfirmed}"
    );

    assert_eq!(
        pending.await.unwrap(),
        503,
        "the login still waits for its real callback, then times out"
    );
    assert_eq!(
        validate(&gw, "sess-forged").await["valid"],
        false,
        "nothing forged was cached"
    );

    let public = gw
        .http
        .post(gw.public("/api/internal/callback"))
        .json(&json!({"request_id": request_id, "status": "success"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        public.status(),
        404,
        "the public listener does not serve callbacks"
    );
}

#[tokio::test]
async fn the_callback_secret_is_required_when_configured() {
    let standin = NoetlStandIn::start().await;
    standin.set_callback_secret(Some("s3cret-callback"));
    let gw = TestGateway::beside(&standin, |raw| {
        raw.gateway_callback_secret = "s3cret-callback".into();
    })
    .await;
    let (status, body) = login(&gw, "good").await;
    assert_eq!(
        status, 200,
        "the worker's callback with the secret completes the login: {body}"
    );
    for auth in [None, Some("Bearer wrong"), Some("Basic s3cret-callback")] {
        let mut req = gw
            .http
            .post(gw.internal("/api/internal/callback"))
            .json(&json!({"request_id": "r-1", "status": "success"}));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn the_session_route_reads_the_token_from_bearer_header_or_cookie() {
    let standin = NoetlStandIn::start().await;
    let gw = gateway(&standin, "playbook").await;
    let token = standin.add_session(5, "e@example.com", json!(["dev"]));
    let url = gw.public("/api/auth/session");
    let ways = [
        gw.http.get(&url).bearer_auth(&token),
        gw.http.get(&url).header("x-session-token", &token),
        gw.http
            .get(&url)
            .header("cookie", format!("theme=dark; session_token={token}")),
    ];
    for request in ways {
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["user"]["user_id"], 5);
    }
    for request in [
        gw.http.get(&url),
        gw.http.get(&url).bearer_auth("sess-invalid"),
    ] {
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHENTICATED", "{body}");
    }
}

#[tokio::test]
async fn an_uncached_token_with_noetl_down_is_a_503_json_error() {
    let mut standin = NoetlStandIn::start().await;
    let gw = gateway(&standin, "playbook").await;
    let cached = standin.add_session(6, "f@example.com", json!(["dev"]));
    assert_eq!(validate(&gw, &cached).await["valid"], true);
    standin.stop().await;
    assert_eq!(
        validate(&gw, &cached).await["valid"],
        true,
        "a cached session survives a NoETL outage"
    );
    let resp = gw
        .http
        .get(gw.public("/api/auth/session"))
        .bearer_auth("sess-uncached")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "BACKEND_UNAVAILABLE");
    let (status, body) = gw
        .post_json(
            "/api/auth/validate",
            json!({"session_token": "sess-uncached-2"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("BACKEND_UNAVAILABLE"))
    );
}

#[tokio::test]
async fn a_thousand_concurrent_validations_of_one_token_ask_noetl_once() {
    let standin = NoetlStandIn::start().await;
    standin.set_stall(Duration::from_millis(200));
    let gw = gateway(&standin, "playbook").await;
    let token = standin.add_session(8, "g@example.com", json!(["dev"]));
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let http = gw.http.clone();
        let url = gw.public("/api/auth/validate");
        let body = json!({"session_token": token});
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["valid"]
                == true
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap(), "every validation succeeds");
    }
    assert_eq!(
        standin.calls_to("/api/auth/session/validate").len(),
        1,
        "one NoETL lookup"
    );
}

#[tokio::test]
async fn bad_auth_input_gets_a_4xx_json_error() {
    let standin = NoetlStandIn::start().await;
    let gw = gateway(&standin, "playbook").await;
    let cases: Vec<(&str, &str, u16, &str)> = vec![
        ("/api/auth/login", "{not json", 400, "BAD_REQUEST"),
        ("/api/auth/login", "{}", 400, "BAD_REQUEST"),
        (
            "/api/auth/login",
            r#"{"auth0_token": {"nested": true}}"#,
            400,
            "BAD_REQUEST",
        ),
        (
            "/api/auth/login",
            r#"{"auth0_token": "   "}"#,
            400,
            "BAD_USER_INPUT",
        ),
        ("/api/auth/validate", "[]", 400, "BAD_REQUEST"),
        (
            "/api/auth/check-access",
            r#"{"session_token": "t", "playbook_path": "../etc/passwd"}"#,
            400,
            "BAD_USER_INPUT",
        ),
        (
            "/api/auth/check-access",
            r#"{"session_token": "t", "playbook_path": "a/b", "permission_type": "own"}"#,
            400,
            "BAD_USER_INPUT",
        ),
        ("/api/auth/logout", "{}", 400, "BAD_USER_INPUT"),
    ];
    for (path, body, want_status, want_code) in cases {
        let resp = gw
            .http
            .post(gw.public(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let json: Value = resp.json().await.unwrap();
        assert_eq!(
            (status, json["code"].as_str()),
            (want_status, Some(want_code)),
            "{path} {body}: {json}"
        );
    }
    let resp = gw
        .http
        .post(gw.public("/api/auth/validate"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // A value of the wrong JSON type is malformed (BAD_REQUEST); a value of the right type
    // that breaks a rule is bad input (BAD_USER_INPUT).
    let internal_cases = [
        (
            r#"{"request_id": "has space", "status": "success"}"#,
            "BAD_USER_INPUT",
        ),
        (
            r#"{"request_id": "r1", "status": "maybe"}"#,
            "BAD_USER_INPUT",
        ),
        (
            r#"{"request_id": "r1", "status": "success", "execution_id": 1.5}"#,
            "BAD_REQUEST",
        ),
        (r#"{"request_id": 7, "status": "success"}"#, "BAD_REQUEST"),
    ];
    for (body, want_code) in internal_cases {
        let resp = gw
            .http
            .post(gw.internal("/api/internal/callback"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let json: Value = resp.json().await.unwrap();
        assert_eq!(
            (status, json["code"].as_str()),
            (400, Some(want_code)),
            "{body}: {json}"
        );
    }
}

#[tokio::test]
async fn auth_answers_are_marked_for_no_cache_to_keep_and_others_are_not() {
    let standin = NoetlStandIn::start().await;
    let gw = gateway(&standin, "playbook").await;
    let post = |path: &'static str, body: Value| gw.http.post(gw.public(path)).json(&body).send();
    let login = post(
        "/api/auth/login",
        json!({"auth0_token": "good:7:ada@example.com", "auth0_domain": "example.auth0.com"}),
    )
    .await
    .unwrap();
    assert_eq!(login.status(), 200);
    let cache_control = |r: &reqwest::Response| {
        r.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(cache_control(&login).as_deref(), Some("no-store"));
    let token = login.json::<Value>().await.unwrap()["session_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A session's answer, and an error of the same API, alike.
    let validated = post("/api/auth/validate", json!({"session_token": token}))
        .await
        .unwrap();
    assert_eq!(validated.status(), 200);
    assert_eq!(cache_control(&validated).as_deref(), Some("no-store"));
    let refused = post("/api/auth/validate", json!([])).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(cache_control(&refused).as_deref(), Some("no-store"));
    let session = gw
        .http
        .get(gw.public("/api/auth/session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 200);
    assert_eq!(cache_control(&session).as_deref(), Some("no-store"));
    let health = gw.http.get(gw.public("/health")).send().await.unwrap();
    assert_eq!(cache_control(&health), None);
}

/// Sends `request` and checks that it is refused at the bound on auth work waiting on
/// NoETL: 503 `UNAVAILABLE` with `Retry-After: 1`, in under a second.
async fn assert_refused_at_the_bound(
    request: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
) {
    let started = std::time::Instant::now();
    let refused = request.await.unwrap();
    assert_eq!(refused.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once"
    );
    let retry_after = refused.headers().get("retry-after").cloned();
    assert_eq!(retry_after.as_ref().map(|v| v.to_str().unwrap()), Some("1"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "UNAVAILABLE");
}

#[tokio::test]
async fn sign_ins_past_the_replicas_bound_on_waiting_playbooks_are_refused_at_once() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| {
        raw.auth_playbook_timeout_secs = 2;
        raw.gateway_auth_max_pending = 2;
    })
    .await;
    let silent = |gw: &TestGateway| {
        gw.http
            .post(gw.public("/api/auth/login"))
            .json(&json!({"auth0_token": "silent"}))
            .send()
    };
    // A session to check access with later; its login's place is free once it answered.
    let (status, body) = login(&gw, "good:7:ada@example.com").await;
    assert_eq!(status, 200, "{body}");
    let token = body["session_token"].as_str().unwrap().to_owned();
    let waiting = [tokio::spawn(silent(&gw)), tokio::spawn(silent(&gw))];
    let both_started = eventually(Duration::from_secs(5), || async {
        standin.executions_of(LOGIN).len() == 3
    })
    .await;
    assert!(both_started, "two login playbooks wait on their callbacks");

    assert_refused_at_the_bound(silent(&gw)).await;
    assert_eq!(standin.executions_of(LOGIN).len(), 3, "no further playbook");
    // An access check runs a playbook too, and waits in the same bound.
    let (status, body) = gw
        .post_json(
            "/api/auth/check-access",
            json!({"session_token": token, "playbook_path": "a/b", "permission_type": "execute"}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (503, Some("UNAVAILABLE")));
    assert!(standin.executions_of(CHECK_ACCESS).is_empty());
    let metrics = gw.metrics_text().await;
    assert!(
        metrics.contains("\ngateway_auth_refused_total 2\n"),
        "both refusals are counted: {metrics}"
    );
    assert!(
        metrics.contains("\ngateway_auth_backend_waiting 2\n"),
        "the two waiting logins show: {metrics}"
    );

    // When the waiting ones end, their places are free again.
    for w in waiting {
        assert_eq!(w.await.unwrap().unwrap().status(), 503);
    }
    let (status, body) = login(&gw, "good:7:ada@example.com").await;
    assert_eq!(status, 200, "{body}");
    let metrics = gw.metrics_text().await;
    assert!(
        metrics.contains("\ngateway_auth_backend_waiting 0\n"),
        "nothing waits once every login answered: {metrics}"
    );
}

#[tokio::test]
async fn lookups_of_unknown_tokens_past_the_bound_are_refused_and_cached_sessions_still_served() {
    let standin = NoetlStandIn::start().await;
    let gw = TestGateway::beside(&standin, |raw| {
        raw.gateway_auth_max_pending = 2;
    })
    .await;
    let known = standin.add_session(7, "ada@example.com", json!(["admin"]));
    assert_eq!(validate(&gw, &known).await["valid"], true, "now cached");
    const LOOKUP: &str = "/api/auth/session/validate";
    let lookups_before = standin.calls_to(LOOKUP).len();

    // NoETL slows down while made-up tokens arrive.
    standin.set_stall(Duration::from_millis(1_500));
    let made_up = |gw: &TestGateway, token: &str| {
        gw.http
            .post(gw.public("/api/auth/validate"))
            .json(&json!({"session_token": token}))
            .send()
    };
    let waiting = [
        tokio::spawn(made_up(&gw, "made-up-1")),
        tokio::spawn(made_up(&gw, "made-up-2")),
    ];
    let both_asked = eventually(Duration::from_secs(5), || async {
        standin.calls_to(LOOKUP).len() == lookups_before + 2
    })
    .await;
    assert!(both_asked, "two lookups wait on NoETL");
    assert_refused_at_the_bound(made_up(&gw, "made-up-3")).await;
    // The cached session does not need NoETL, so the bound does not touch it.
    assert_eq!(validate(&gw, &known).await["valid"], true);
    assert_eq!(standin.calls_to(LOOKUP).len(), lookups_before + 2);

    for w in waiting {
        let answer: Value = w.await.unwrap().unwrap().json().await.unwrap();
        assert_eq!(answer["valid"], false, "{answer}");
    }
    standin.set_stall(Duration::ZERO);
    assert_eq!(validate(&gw, "made-up-3").await["valid"], false);
}
