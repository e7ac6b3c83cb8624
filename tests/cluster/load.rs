//! Steady load for the cluster tests: validations and logins on any replica, and real-time
//! clients that start executions and follow their results over SSE, reconnecting with
//! `Last-Event-ID` to whichever replica is there. Everything that goes wrong is recorded
//! with the replica it happened on and when the request started.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::fleet::{Live, fresh_client};
use crate::support::noetl::ECHO;
use crate::support::sse::SseClient;

/// A request that reached a replica and did not get the answer it should have.
#[derive(Debug, Clone)]
pub struct Failure {
    pub replica: usize,
    pub started: Instant,
    pub what: String,
}

#[derive(Debug, Default)]
pub struct Record {
    pub failures: Vec<Failure>,
    pub validations: usize,
    pub logins: usize,
    /// Request ids of the executions each client started, as the gateway answered them.
    pub expected: HashMap<String, Vec<String>>,
    /// Request ids of the results each client received, in order of arrival.
    pub received: HashMap<String, Vec<String>>,
    pub reconnects: usize,
}

impl Record {
    fn fail(&mut self, replica: usize, started: Instant, what: String) {
        self.failures.push(Failure {
            replica,
            started,
            what,
        });
    }

    /// Results expected but not (yet) received, by client.
    pub fn missing(&self) -> Vec<(String, String)> {
        let mut missing = Vec::new();
        for (client, ids) in &self.expected {
            let got = self.received.get(client).cloned().unwrap_or_default();
            for id in ids {
                if !got.contains(id) {
                    missing.push((client.clone(), id.clone()));
                }
            }
        }
        missing
    }

    /// Results a client received more than once.
    pub fn duplicates(&self) -> Vec<(String, String)> {
        let mut twice = Vec::new();
        for (client, ids) in &self.received {
            let mut seen = std::collections::HashSet::new();
            for id in ids {
                if !seen.insert(id) {
                    twice.push((client.clone(), id.clone()));
                }
            }
        }
        twice
    }
}

enum Sent {
    Answered {
        replica: usize,
        started: Instant,
        status: u16,
        body: Value,
    },
    Failed {
        replica: usize,
        started: Instant,
        error: String,
    },
}

/// Sends to the live replicas in turn. A refused connection never reached a replica, so
/// the next one is tried (for up to ten seconds); anything after that is an answer or a
/// failure of the replica that took it.
async fn send(
    live: &Live,
    turn: &AtomicUsize,
    build: impl Fn(&str) -> reqwest::RequestBuilder,
) -> Option<Sent> {
    let give_up = Instant::now() + Duration::from_secs(10);
    while Instant::now() < give_up {
        let pick = {
            let list = live.lock().expect("live");
            (!list.is_empty()).then(|| list[turn.fetch_add(1, Ordering::Relaxed) % list.len()])
        };
        let Some((replica, addr)) = pick else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let started = Instant::now();
        match build(&format!("http://{addr}")).send().await {
            Err(e) if e.is_connect() => continue,
            Err(e) => {
                return Some(Sent::Failed {
                    replica,
                    started,
                    error: e.to_string(),
                });
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.json().await.unwrap_or(Value::Null);
                return Some(Sent::Answered {
                    replica,
                    started,
                    status,
                    body,
                });
            }
        }
    }
    None
}

/// Records the outcome; true when it was the answer `ok` accepts.
fn judge(
    record: &Mutex<Record>,
    sent: Option<Sent>,
    what: &str,
    ok: impl Fn(u16, &Value) -> bool,
) -> Option<Value> {
    let mut record = record.lock().expect("record");
    match sent {
        None => {
            record.fail(
                usize::MAX,
                Instant::now(),
                format!("{what}: no replica took it"),
            );
            None
        }
        Some(Sent::Failed {
            replica,
            started,
            error,
        }) => {
            record.fail(replica, started, format!("{what}: {error}"));
            None
        }
        Some(Sent::Answered {
            replica,
            started,
            status,
            body,
        }) => {
            if ok(status, &body) {
                Some(body)
            } else {
                record.fail(replica, started, format!("{what}: {status} {body}"));
                None
            }
        }
    }
}

pub struct Load {
    stop: Arc<AtomicBool>,
    readers_stop: Arc<AtomicBool>,
    pub record: Arc<Mutex<Record>>,
    workers: Vec<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
}

const EXECUTE: &str = "mutation Run($name: String!, $clientId: String) { executePlaybook(name: $name, clientId: $clientId) { requestId } }";

impl Load {
    /// Starts the load: `sessions` are valid tokens to validate, and one real-time client
    /// per entry of `clients` (client id, its session's token).
    pub fn start(live: Live, sessions: Vec<String>, clients: Vec<(String, String)>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let readers_stop = Arc::new(AtomicBool::new(false));
        let record = Arc::new(Mutex::new(Record::default()));
        let pool = Arc::new(Mutex::new(sessions));
        let mut workers = Vec::new();
        for n in 0..2 {
            workers.push(tokio::spawn(validate(
                live.clone(),
                pool.clone(),
                record.clone(),
                stop.clone(),
                n,
            )));
        }
        workers.push(tokio::spawn(login(
            live.clone(),
            pool.clone(),
            record.clone(),
            stop.clone(),
        )));
        let mut readers = Vec::new();
        for (client, token) in clients {
            record
                .lock()
                .expect("record")
                .expected
                .insert(client.clone(), Vec::new());
            workers.push(tokio::spawn(execute(
                live.clone(),
                client.clone(),
                token.clone(),
                record.clone(),
                stop.clone(),
            )));
            readers.push(tokio::spawn(follow(
                live.clone(),
                client,
                token,
                record.clone(),
                readers_stop.clone(),
            )));
        }
        Self {
            stop,
            readers_stop,
            record,
            workers,
            readers,
        }
    }

    /// Stops the load, then gives the clients up to `within` to receive every result.
    pub async fn finish(self, within: Duration) -> Record {
        self.stop.store(true, Ordering::SeqCst);
        for worker in self.workers {
            let _ = worker.await;
        }
        let deadline = Instant::now() + within;
        while Instant::now() < deadline && !self.record.lock().expect("record").missing().is_empty()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // A moment more, so a result delivered twice would show.
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.readers_stop.store(true, Ordering::SeqCst);
        for reader in self.readers {
            reader.abort();
        }
        Arc::try_unwrap(self.record)
            .map(|m| m.into_inner().expect("record"))
            .unwrap_or_else(|shared| std::mem::take(&mut *shared.lock().expect("record")))
    }
}

async fn validate(
    live: Live,
    pool: Arc<Mutex<Vec<String>>>,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
    n: usize,
) {
    let http = fresh_client();
    let turn = AtomicUsize::new(n);
    let mut i = n;
    while !stop.load(Ordering::SeqCst) {
        let token = {
            let pool = pool.lock().expect("pool");
            pool[i % pool.len()].clone()
        };
        i += 1;
        let sent = send(&live, &turn, |base| {
            http.post(format!("{base}/api/auth/validate"))
                .json(&json!({"session_token": token}))
        })
        .await;
        if judge(&record, sent, "validate", |s, b| {
            s == 200 && b["valid"] == true
        })
        .is_some()
        {
            record.lock().expect("record").validations += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn login(
    live: Live,
    pool: Arc<Mutex<Vec<String>>>,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
) {
    let http = fresh_client();
    let turn = AtomicUsize::new(0);
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let idp = format!("good:{}:load{n}@example.com", 1000 + n);
        let sent = send(&live, &turn, |base| {
            http.post(format!("{base}/api/auth/login"))
                .json(&json!({"auth0_token": idp}))
        })
        .await;
        let answer = judge(&record, sent, "login", |s, b| {
            s == 200 && b["status"] == "authenticated"
        });
        if let Some(token) = answer.and_then(|b| b["session_token"].as_str().map(str::to_owned)) {
            record.lock().expect("record").logins += 1;
            pool.lock().expect("pool").push(token);
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn execute(
    live: Live,
    client: String,
    token: String,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
) {
    let http = fresh_client();
    let turn = AtomicUsize::new(client.len());
    while !stop.load(Ordering::SeqCst) {
        let sent = send(&live, &turn, |base| {
            http.post(format!("{base}/graphql"))
                .bearer_auth(&token)
                .json(&json!({"query": EXECUTE, "variables": {"name": ECHO, "clientId": client}}))
        })
        .await;
        let answer = judge(&record, sent, "executePlaybook", |s, b| {
            s == 200 && b["data"]["executePlaybook"]["requestId"].is_string()
        });
        if let Some(id) = answer.and_then(|b| {
            b["data"]["executePlaybook"]["requestId"]
                .as_str()
                .map(str::to_owned)
        }) {
            let mut record = record.lock().expect("record");
            record.expected.entry(client.clone()).or_default().push(id);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One real-time client: follows its stream on some replica and, whenever the stream ends
/// or goes quiet, resumes on the next replica from the last id it saw.
async fn follow(
    live: Live,
    client: String,
    token: String,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("sse client");
    let mut turn = client.len();
    let mut last: Option<String> = None;
    let mut first = true;
    while !stop.load(Ordering::SeqCst) {
        let pick = {
            let list = live.lock().expect("live");
            turn += 1;
            (!list.is_empty()).then(|| list[turn % list.len()])
        };
        let Some((replica, addr)) = pick else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let started = Instant::now();
        let mut request = http.get(format!(
            "http://{addr}/events?session_token={token}&client_id={client}"
        ));
        if let Some(id) = &last {
            request = request.header("last-event-id", id);
        }
        if !first {
            record.lock().expect("record").reconnects += 1;
        }
        first = false;
        let mut stream = match SseClient::try_connect(request).await {
            Ok(s) if s.status == 200 => s,
            Ok(s) => {
                record.lock().expect("record").fail(
                    replica,
                    started,
                    format!("events: {}", s.status),
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Pings come every second; three quiet seconds mean the replica is gone.
        while let Some(frame) = stream.next_within(Duration::from_secs(3)).await {
            match frame.event.as_str() {
                "playbook/result" => {
                    if let Some(id) = frame.data["params"]["requestId"].as_str() {
                        let mut record = record.lock().expect("record");
                        record
                            .received
                            .entry(client.clone())
                            .or_default()
                            .push(id.to_owned());
                    }
                }
                "reconnect" => break,
                "error" => {
                    record.lock().expect("record").fail(
                        replica,
                        started,
                        format!("events error frame: {}", frame.data),
                    );
                    break;
                }
                _ => {}
            }
            if frame.event.starts_with("playbook/") {
                last = frame.id.clone().or(last);
            }
        }
    }
}
