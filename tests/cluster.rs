//! Multi-replica and fault tests on one machine: three gateway processes, a three-node NATS
//! cluster (replicated K/V buckets and event stream), the NoETL stand-in, and a balancer in
//! front of the internal listeners. Sessions, logins and results cross replicas; killing a
//! NATS node and a gateway under load loses no result and refuses no valid session; a
//! rolling restart under load fails no request that reached a gateway.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

#[path = "cluster/fleet.rs"]
mod fleet;
#[path = "cluster/load.rs"]
mod load;

use std::time::{Duration, Instant};

use fleet::{Fleet, fresh_client};
use load::{Load, Record};
use noetl_gateway::adapters::nats::{NatsConnection, NatsSessionCache};
use serde_json::{Value, json};
use support::noetl::SLOW;
use support::sse::SseClient;

/// The scenarios each run a whole cluster: one at a time on a two-core machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn login_on(fleet: &Fleet, replica: usize, idp: &str) -> String {
    let answer: Value = fresh_client()
        .post(format!("{}/api/auth/login", fleet.public(replica)))
        .json(&json!({"auth0_token": idp}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["status"], "authenticated",
        "login on replica {replica}: {answer}"
    );
    answer["session_token"].as_str().unwrap().to_owned()
}

fn report(record: &Record) -> String {
    format!(
        "validations {}, logins {}, executions {:?}, reconnects {}, failures {:#?}, missing {:?}, duplicates {:?}",
        record.validations,
        record.logins,
        record
            .expected
            .iter()
            .map(|(c, ids)| (c.clone(), ids.len()))
            .collect::<Vec<_>>(),
        record.reconnects,
        record
            .failures
            .iter()
            .map(|f| format!("replica {}: {}", f.replica, f.what))
            .collect::<Vec<_>>(),
        record.missing(),
        record.duplicates()
    )
}

/// Logs a user in on each replica and starts the steady load: those sessions validated, and
/// one real-time client per session, named `{prefix}-a`, `-b`, `-c`.
async fn start_load(fleet: &Fleet, prefix: &str, first_user: u32) -> Load {
    let mut tokens = Vec::new();
    let mut clients = Vec::new();
    for (replica, name) in ["a", "b", "c"].iter().enumerate() {
        let user = first_user + 1 + u32::try_from(replica).unwrap();
        let token = login_on(fleet, replica, &format!("good:{user}:{name}@example.com")).await;
        clients.push((format!("{prefix}-{name}"), token.clone()));
        tokens.push(token);
    }
    Load::start(fleet.live.clone(), tokens, clients)
}

/// How the workers' callbacks were answered, by route and status.
fn callback_answers(fleet: &Fleet) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for sent in fleet.standin.callbacks() {
        let route = sent
            .url
            .rsplit("/api/internal")
            .next()
            .unwrap_or_default()
            .to_owned();
        let delivered = match sent.answer.get("delivered") {
            Some(d) => format!(" delivered={d}"),
            None => String::new(),
        };
        *counts
            .entry(format!("{route} {}{delivered}", sent.status))
            .or_insert(0) += 1;
    }
    counts
}

fn assert_steady(record: &Record, fleet: &mut Fleet) {
    assert!(record.validations >= 50, "{}", report(record));
    assert!(record.logins >= 5, "{}", report(record));
    assert!(
        record.expected.values().all(|ids| ids.len() >= 5),
        "{}",
        report(record)
    );
    assert!(
        record.missing().is_empty(),
        "results lost: {}\ncallbacks: {:?}\n{}",
        report(record),
        callback_answers(fleet),
        fleet.tails()
    );
    assert!(
        record.duplicates().is_empty(),
        "results twice: {}",
        report(record)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_validate_stream_and_callback_each_on_a_different_replica() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut fleet = Fleet::start().await;
    let http = fresh_client();

    let token = login_on(&fleet, 0, "good:501:cross@example.com").await;
    let asked_noetl = fleet.standin.calls_to("/api/auth/session/validate").len();
    let valid: Value = http
        .post(format!("{}/api/auth/validate", fleet.public(1)))
        .json(&json!({"session_token": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(valid["valid"], true, "{valid}");
    assert_eq!(valid["user"]["email"], "cross@example.com");
    assert_eq!(
        fleet.standin.calls_to("/api/auth/session/validate").len(),
        asked_noetl,
        "replica 2 knew the session from the replicated bucket\n{}",
        fleet.tails()
    );

    let sse_http = reqwest::Client::new();
    let mut sse = SseClient::connect(sse_http.get(format!(
        "{}/events?session_token={token}&client_id=cross-tab",
        fleet.public(2)
    )))
    .await;
    assert_eq!(sse.next().await.data["result"]["clientId"], "cross-tab");

    // A playbook that will not call back for a minute: the callback below is the result.
    let vars = json!({"delay_ms": 60000});
    let started =
        support::execute_playbook(&http, &fleet.public(1), &token, SLOW, "cross-tab", vars).await;
    let run = &started["data"]["executePlaybook"];
    let request_id = run["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"));
    let callback = http
        .post(format!("{}/api/internal/callback/async", fleet.internal(0)))
        .json(&json!({"request_id": request_id, "execution_id": run["executionId"], "status": "COMPLETED", "data": {"answer": 7}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        callback.status(),
        202,
        "queued: the client streams from another replica"
    );

    let state = sse.next_event().await;
    assert_eq!(state.event, "playbook/state");
    let result = sse.next_event().await;
    assert_eq!(result.event, "playbook/result", "{}", fleet.tails());
    assert_eq!(result.data["params"]["requestId"], request_id);
    assert_eq!(result.data["params"]["data"]["answer"], 7);
}

/// Losing the node that leads the request bucket's stream makes JetStream elect a new
/// leader among the other two; requests started meanwhile wait for it instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_request_buckets_leader_fails_no_request() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut fleet = Fleet::start().await;
    let token = login_on(&fleet, 0, "good:801:leader@example.com").await;
    let http = fresh_client();
    let vars = json!({"delay_ms": 60000});
    let first = support::execute_playbook(
        &http,
        &fleet.public(0),
        &token,
        SLOW,
        "leader",
        vars.clone(),
    )
    .await;
    assert!(
        first["data"]["executePlaybook"]["requestId"].is_string(),
        "{first}"
    );

    let leader = fleet.nats.stream_leader("KV_requests").await;
    fleet.nats.nodes[leader].kill();
    let killed = Instant::now();

    let mut runs = Vec::new();
    for replica in 0..3 {
        let (base, token, vars, http) = (
            fleet.public(replica),
            token.clone(),
            vars.clone(),
            http.clone(),
        );
        runs.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while killed.elapsed() < Duration::from_secs(12) {
                let sent = killed.elapsed();
                let answer =
                    support::execute_playbook(&http, &base, &token, SLOW, "leader", vars.clone())
                        .await;
                answers.push((replica, sent, answer));
            }
            answers
        }));
    }
    let mut answered = 0;
    let mut failed = Vec::new();
    for run in runs {
        for (replica, sent, answer) in run.await.unwrap() {
            answered += 1;
            if !answer["data"]["executePlaybook"]["requestId"].is_string() {
                failed.push(format!(
                    "replica {replica}, sent {sent:?} after the kill: {answer}"
                ));
            }
        }
    }
    assert!(answered >= 30, "requests kept coming: {answered}");
    assert!(
        failed.is_empty(),
        "requests failed while the stream elected a leader (node n{leader} killed): {failed:#?}\n{}",
        fleet.tails()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_nats_node_and_a_gateway_under_load_loses_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut fleet = Fleet::start().await;
    let load = start_load(&fleet, "fault", 600).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    fleet.nats.nodes[0].kill();
    if let Some(gw) = fleet.gateways[2].as_mut() {
        let _ = gw.child.kill();
        let _ = gw.child.wait();
    }
    let killed = Instant::now();
    fleet.withdraw(2);
    tokio::time::sleep(Duration::from_secs(5)).await;

    let record = load.finish(Duration::from_secs(30)).await;
    let unexplained: Vec<_> = record
        .failures
        .iter()
        .filter(|f| !(f.replica == 2 && f.started <= killed))
        .collect();
    assert!(
        unexplained.is_empty(),
        "errors other than requests in flight on the killed gateway: {unexplained:#?}\n{}\ncallbacks: {:?}\n{}",
        report(&record),
        callback_answers(&fleet),
        fleet.tails()
    );
    assert_steady(&record, &mut fleet);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_fails_no_request_and_loses_no_result() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut fleet = Fleet::start().await;
    let load = start_load(&fleet, "roll", 700).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    for i in 0..3 {
        // SIGTERM while clients still send to it; they stop once its readiness says
        // draining, as a load balancer would. What reaches it must be answered.
        let gw = fleet.gateways[i].as_mut().expect("running");
        gw.terminate();
        let readyz = format!("http://{}/readyz", gw.public);
        let probe = fresh_client();
        let draining = support::eventually(Duration::from_secs(5), || async {
            probe
                .get(&readyz)
                .send()
                .await
                .map_or(true, |r| r.status() == 503)
        })
        .await;
        assert!(draining, "replica {i} reported draining");
        fleet.withdraw(i);
        let gw = fleet.gateways[i].as_mut().expect("running");
        let exit = gw.wait_exit(Duration::from_secs(15));
        assert_eq!(
            exit.and_then(|s| s.code()),
            Some(0),
            "replica {i} drained and exited 0"
        );
        fleet.gateways[i] = Some(fleet.spawn());
        fleet.wait_ready(i).await;
        fleet.publish();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let record = load.finish(Duration::from_secs(30)).await;
    assert!(
        record.failures.is_empty(),
        "requests that reached a gateway failed: {}\n{}",
        report(&record),
        fleet.tails()
    );
    assert!(
        record.reconnects >= 1,
        "streams moved between replicas: {}",
        report(&record)
    );
    assert_steady(&record, &mut fleet);
}

/// One replica's session cache on a cluster, connected to `node` only.
async fn cache_on(
    cluster: &support::nats::NatsCluster,
    node: usize,
    bucket: &str,
) -> NatsSessionCache {
    let conn = NatsConnection::start(&cluster.nodes[node].url(), "watch-loss")
        .await
        .unwrap();
    let up = support::eventually(Duration::from_secs(10), || async { conn.is_connected() }).await;
    assert!(up, "connected to node n{node}");
    let ttl = Duration::from_secs(60);
    let cache = NatsSessionCache::new(conn, bucket, ttl, ttl, 3);
    cache.open().await.unwrap();
    cache
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reaches_a_replica_at_once_when_its_watch_node_is_lost() {
    use noetl_gateway::domain::SessionToken;
    use noetl_gateway::ports::SessionCache;
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut cluster = support::nats::NatsCluster::start();
    cluster.wait_ready().await;
    // A follower connected to one node whose watch of its sessions bucket is served by
    // another node (the server places the watch's consumer): a fresh bucket per try, so
    // that the follower's is the bucket's only consumer.
    let mut placed = None;
    for (attempt, node) in [0, 1, 2, 0, 1, 2].into_iter().enumerate() {
        let bucket = format!("sessions{attempt}");
        let follower = cache_on(&cluster, node, &bucket).await;
        let changes = follower.invalidations().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        match cluster.consumer_hosts(&format!("KV_{bucket}")).await[..] {
            [host] if host != node => {
                placed = Some((bucket, follower, changes, node, host));
                break;
            }
            _ => drop((follower, changes)),
        }
    }
    let (bucket, _follower, mut changes, node, host) =
        placed.expect("a watch served by a node other than the follower's");
    let writer_node = (0..3).find(|n| *n != node && *n != host).unwrap();
    let writer = cache_on(&cluster, writer_node, &bucket).await;

    cluster.nodes[host].kill();
    let key = SessionToken::parse("token-of-a-lost-watch").unwrap().key();
    let removed = support::eventually(Duration::from_secs(15), || async {
        writer.remove(&key).await.is_ok()
    })
    .await;
    assert!(
        removed,
        "the cluster takes writes again without node n{host}"
    );
    assert!(
        support::announces(&mut changes, &key, Duration::from_secs(1)).await,
        "a change made on n{writer_node} reaches the follower on n{node} within a second, \
         though the node serving its watch (n{host}) is gone"
    );
}
