//! One contract suite per driven port, run against every implementation: the in-memory
//! twins here, the NATS and NoETL adapters beside them as they exist.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod contracts;
mod support;

use std::time::Duration;

use noetl_gateway::adapters::memory::{
    InMemoryEventLog, InMemoryForwarder, InMemoryPlaybookRunner, InMemoryReplyBus,
    InMemoryRequestStore, InMemorySessionCache,
};
use noetl_gateway::adapters::nats::{
    EventLogSettings, NatsConnection, NatsEventLog, NatsReplyBus, NatsRequestStore,
    NatsSessionCache,
};
use noetl_gateway::adapters::noetl::{NoetlClient, NoetlSettings};

async fn connected(url: &str) -> NatsConnection {
    let conn = NatsConnection::start(url, "contract-test")
        .await
        .expect("valid url");
    let up = support::eventually(Duration::from_secs(10), || async { conn.is_connected() }).await;
    assert!(up, "connected to the test nats-server");
    conn
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn in_memory_session_cache_keeps_the_session_cache_contract() {
    contracts::session_cache::run(|ttl| async move { InMemorySessionCache::new(ttl, ttl * 20) })
        .await;
}

#[tokio::test]
async fn in_memory_request_store_keeps_the_request_store_contract() {
    contracts::request_store::run(|ttl| async move { InMemoryRequestStore::new(ttl) }).await;
}

#[tokio::test]
async fn in_memory_event_log_keeps_the_event_log_contract() {
    contracts::event_log::run(|| async {
        InMemoryEventLog::new(10_000, std::time::Duration::from_secs(3600))
    })
    .await;
}

#[tokio::test]
async fn the_in_memory_event_log_tells_a_resume_of_what_it_discarded() {
    let retention = std::time::Duration::from_secs(1);
    contracts::event_log::discards_are_told(InMemoryEventLog::new(10_000, retention), retention)
        .await;
}

#[tokio::test]
async fn in_memory_reply_bus_keeps_the_reply_bus_contract() {
    contracts::reply_bus::run(|| async { InMemoryReplyBus::new() }).await;
}

#[tokio::test]
async fn in_memory_forwarder_keeps_the_forwarder_contract() {
    contracts::forwarder::run_echo(InMemoryForwarder::new()).await;
}

#[tokio::test]
async fn in_memory_playbook_runner_keeps_the_runner_contract() {
    let twin = InMemoryPlaybookRunner::new([support::noetl::ECHO, support::noetl::SILENT]);
    let controls = contracts::playbook_runner::Controls {
        finish: Box::new({
            let twin = twin.clone();
            move |id| twin.set_state(id, noetl_gateway::domain::ExecutionState::Completed)
        }),
        add_session: Box::new({
            let twin = twin.clone();
            move |token, session| twin.add_session(token, session)
        }),
    };
    contracts::playbook_runner::run(twin, controls).await;
}

#[tokio::test]
async fn noetl_client_against_the_stand_in_keeps_the_runner_contract() {
    let standin = support::NoetlStandIn::start().await;
    let client = NoetlClient::new(
        NoetlSettings {
            base_url: standin.base_url(),
            connect_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_secs(2),
            session_credential: "pg_auth".into(),
        },
        Default::default(),
    );
    let state = standin.state.clone();
    let controls = contracts::playbook_runner::Controls {
        finish: Box::new({
            let state = state.clone();
            move |id| {
                let n: u64 = id.as_str().parse().expect("stand-in ids are numeric");
                if let Some(e) = state.executions.lock().expect("lock").get_mut(&n) {
                    e.status = "COMPLETED".into();
                }
            }
        }),
        add_session: Box::new(move |token, session| {
            state.sessions.lock().expect("lock").insert(
                token.expose().to_owned(),
                support::noetl::StandInSession {
                    user: serde_json::to_value(&session.user).expect("user json"),
                    expires_at: session
                        .expires_at
                        .as_ref()
                        .map(|e| e.as_str().to_owned())
                        .unwrap_or_default(),
                    is_active: true,
                },
            );
        }),
    };
    contracts::playbook_runner::run(client, controls).await;
    let cancels: Vec<_> = standin
        .calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/cancel") && c.body["reason"] == "no longer needed")
        .collect();
    assert_eq!(cancels.len(), 1, "the cancel reached NoETL once");
    assert_eq!(
        cancels[0].body["cascade"],
        serde_json::json!(true),
        "cancels cascade to children"
    );
}

#[tokio::test]
async fn nats_session_cache_keeps_the_session_cache_contract() {
    let nats = support::NatsServer::start();
    let conn = connected(&nats.url()).await;
    contracts::session_cache::run(|ttl| {
        let conn = conn.clone();
        async move { NatsSessionCache::new(conn, &unique("sessions"), ttl, ttl * 20, 1) }
    })
    .await;
}

/// A watch made shortly before NATS restarts has seen no traffic; the client's own recovery
/// of such a watch waits for missed heartbeats (about ten seconds), far past the second a
/// logout has to reach every replica in.
#[tokio::test]
async fn session_invalidations_flow_again_at_once_after_nats_restarts() {
    use noetl_gateway::domain::SessionToken;
    use noetl_gateway::ports::SessionCache;
    let mut nats = support::NatsServer::start();
    let bucket = unique("sessions");
    let ttl = Duration::from_secs(60);
    let follower = NatsSessionCache::new(connected(&nats.url()).await, &bucket, ttl, ttl, 1);
    let writer = NatsSessionCache::new(connected(&nats.url()).await, &bucket, ttl, ttl, 1);
    follower.open().await.unwrap();
    writer.open().await.unwrap();
    let mut changes = follower.invalidations().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    nats.restart();
    let key = SessionToken::parse("token-after-restart").unwrap().key();
    let revoked = support::eventually(Duration::from_secs(10), || async {
        writer.revoke(&key).await.is_ok()
    })
    .await;
    assert!(revoked, "the revocation is stored once NATS is back");
    assert!(
        support::announces(&mut changes, &key, Duration::from_secs(1)).await,
        "the revocation is announced within a second of being stored"
    );
}

#[tokio::test]
async fn nats_reply_bus_keeps_the_reply_bus_contract() {
    let nats = support::NatsServer::start();
    let conn = connected(&nats.url()).await;
    contracts::reply_bus::run(|| {
        let conn = conn.clone();
        async move { NatsReplyBus::new(conn, "contract.callbacks") }
    })
    .await;
}

#[tokio::test]
async fn a_nats_reply_reaches_a_waiter_on_another_replica() {
    let nats = support::NatsServer::start();
    let waiting_side = NatsReplyBus::new(connected(&nats.url()).await, "noetl.callbacks");
    let delivering_side = NatsReplyBus::new(connected(&nats.url()).await, "noetl.callbacks");
    contracts::reply_bus::across(waiting_side, delivering_side).await;
}

#[tokio::test]
async fn nats_request_store_keeps_the_request_store_contract() {
    let nats = support::NatsServer::start();
    let conn = connected(&nats.url()).await;
    contracts::request_store::run(|ttl| {
        let conn = conn.clone();
        async move { NatsRequestStore::new(conn, &unique("requests"), ttl, 1) }
    })
    .await;
}

#[tokio::test]
async fn nats_event_log_keeps_the_event_log_contract() {
    let nats = support::NatsServer::start();
    let conn = connected(&nats.url()).await;
    contracts::event_log::run(|| {
        let conn = conn.clone();
        async move { NatsEventLog::new(conn, event_settings()) }
    })
    .await;
}

#[tokio::test]
async fn the_nats_event_log_tells_a_resume_of_what_it_discarded() {
    let nats = support::NatsServer::start();
    let retention = Duration::from_secs(1);
    let settings = EventLogSettings {
        stream: "GATEWAY_EVENTS_SHORT".into(),
        max_age: retention,
        ..event_settings()
    };
    let log = NatsEventLog::new(connected(&nats.url()).await, settings);
    contracts::event_log::discards_are_told(log, retention).await;
}

#[tokio::test]
async fn a_result_appended_again_to_the_nats_event_log_is_kept_once() {
    use futures_util::StreamExt;
    use noetl_gateway::domain::{ClientEvent, ClientId, ExecutionState, RequestId};
    use noetl_gateway::ports::EventLog;
    let nats = support::NatsServer::start();
    let log = NatsEventLog::new(connected(&nats.url()).await, event_settings());
    let client = ClientId::parse("tab-once").unwrap();
    let result = ClientEvent::Result {
        request_id: RequestId::parse("req-once").unwrap(),
        execution_id: None,
        state: ExecutionState::Completed,
        data: None,
        error: None,
        trace: None,
    };
    let first = log.append(&client, &result).await.unwrap();
    let again = log.append(&client, &result).await.unwrap();
    assert_eq!(first, again, "the repeat is acknowledged as the first");
    let mut follow = log.follow(&client, None).await.unwrap();
    let only = follow.next().await.unwrap().unwrap();
    assert_eq!(only.cursor, first);
    let more = tokio::time::timeout(Duration::from_millis(500), follow.next()).await;
    assert!(more.is_err(), "nothing after the one result: {more:?}");
}

#[tokio::test]
async fn a_nats_event_appended_on_one_replica_is_followed_on_another() {
    let nats = support::NatsServer::start();
    let a = NatsEventLog::new(connected(&nats.url()).await, event_settings());
    let b = NatsEventLog::new(connected(&nats.url()).await, event_settings());
    contracts::event_log::across(a, b).await;
}

fn event_settings() -> EventLogSettings {
    EventLogSettings {
        stream: "GATEWAY_EVENTS_TEST".into(),
        subject_prefix: "test.events.".into(),
        max_age: Duration::from_secs(600),
        max_bytes: 64 * 1024 * 1024,
        replicas: 1,
    }
}
