//! Test harness: a NoETL stand-in. A real HTTP server on a free loopback port that answers
//! the NoETL calls of CONTRACT.md section 7 with the real server's shapes, plus a scripted
//! worker that POSTs callbacks to the `gateway_url` found in each started workload, the way
//! the auth and async playbooks do.

mod routes;
mod worker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

pub const LOGIN: &str = "api_integration/auth0/auth0_login";
pub const VALIDATE: &str = "api_integration/auth0/auth0_validate_session";
pub const CHECK_ACCESS: &str = "api_integration/auth0/check_playbook_access";
pub const ECHO: &str = "tests/echo";
pub const SLOW: &str = "tests/slow";
pub const FAILING: &str = "tests/failing";
pub const SILENT: &str = "tests/silent";
pub const SILENT_FAILING: &str = "tests/silent_failing";

const KNOWN: &[&str] = &[
    LOGIN,
    VALIDATE,
    CHECK_ACCESS,
    ECHO,
    SLOW,
    FAILING,
    SILENT,
    SILENT_FAILING,
];

/// One call the stand-in received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: Value,
}

/// One callback the scripted worker posted, with the gateway's answer.
#[derive(Debug, Clone)]
pub struct CallbackSent {
    pub url: String,
    pub body: Value,
    pub status: u16,
    pub answer: Value,
}

#[derive(Debug, Clone)]
pub struct Execution {
    pub id: u64,
    pub path: String,
    pub payload: Value,
    pub status: String,
    pub events: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct StandInSession {
    pub user: Value,
    pub expires_at: String,
    pub is_active: bool,
}

pub struct State {
    pub calls: Mutex<Vec<Call>>,
    pub executions: Mutex<HashMap<u64, Execution>>,
    pub sessions: Mutex<HashMap<String, StandInSession>>,
    pub callbacks: Mutex<Vec<CallbackSent>>,
    pub callback_secret: Mutex<Option<String>>,
    pub next_id: AtomicU64,
    pub rerun_supported: AtomicBool,
    pub legacy_status: AtomicBool,
    /// Every answer waits this long first (a stalled server).
    pub stall_ms: AtomicU64,
    pub http: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    fn record(&self, method: &str, path: &str, body: Value) {
        lock(&self.calls).push(Call {
            method: method.into(),
            path: path.into(),
            body,
        });
    }

    fn set_status(&self, id: u64, status: &str, event: Option<Value>) {
        if let Some(exec) = lock(&self.executions).get_mut(&id) {
            exec.status = status.to_owned();
            exec.events.extend(event);
        }
    }

    /// A fresh session like the login playbook creates; the expiry in PostgreSQL text form.
    fn create_session(&self, user_id: i64, email: &str, roles: Value) -> (String, Value, String) {
        let token = format!("sess-{}", uuid::Uuid::new_v4().simple());
        let user = json!({
            "user_id": user_id, "email": email,
            "display_name": email.split('@').next().unwrap_or("user"), "roles": roles,
        });
        let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(8);
        let expires_at = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
            expires.year(),
            u8::from(expires.month()),
            expires.day(),
            expires.hour(),
            expires.minute(),
            expires.second(),
            expires.microsecond()
        );
        lock(&self.sessions).insert(
            token.clone(),
            StandInSession {
                user: user.clone(),
                expires_at: expires_at.clone(),
                is_active: true,
            },
        );
        (token, user, expires_at)
    }

    fn session(&self, token: &str) -> Option<StandInSession> {
        lock(&self.sessions)
            .get(token)
            .cloned()
            .filter(|s| s.is_active)
    }
}

/// The running stand-in. Stops when dropped.
pub struct NoetlStandIn {
    addr: SocketAddr,
    pub state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl NoetlStandIn {
    pub async fn start() -> Self {
        let state = Arc::new(State {
            calls: Mutex::default(),
            executions: Mutex::default(),
            sessions: Mutex::default(),
            callbacks: Mutex::default(),
            callback_secret: Mutex::default(),
            next_id: AtomicU64::new(583_140_612_345_678_900),
            rerun_supported: AtomicBool::new(false),
            legacy_status: AtomicBool::new(false),
            stall_ms: AtomicU64::new(0),
            http: reqwest::Client::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stand-in");
        let addr = listener.local_addr().expect("stand-in address");
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = routes::app(state.clone());
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async move {
                        let _ = stopped.await;
                    },
                    Some(Duration::ZERO),
                )
                .await;
        });
        Self {
            addr,
            state,
            stop: Some(stop),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops answering: the port is closed and open connections are cut.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state.calls).clone()
    }

    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }

    pub fn executions_of(&self, playbook: &str) -> Vec<Execution> {
        let mut found: Vec<Execution> = lock(&self.state.executions)
            .values()
            .filter(|e| e.path == playbook)
            .cloned()
            .collect();
        found.sort_by_key(|e| e.id);
        found
    }

    pub fn callbacks(&self) -> Vec<CallbackSent> {
        lock(&self.state.callbacks).clone()
    }

    /// The first callback the worker posted, waited for up to 10 s: the worker records a
    /// callback once the gateway has answered it, which can be after the gateway has already
    /// answered the client the callback was for.
    pub async fn first_callback(&self) -> CallbackSent {
        let posted = super::eventually(std::time::Duration::from_secs(10), || async {
            !self.callbacks().is_empty()
        })
        .await;
        assert!(posted, "the worker posted no callback");
        self.callbacks().remove(0)
    }

    /// Whether the worker posts the result of `request_id` to the async callback route
    /// within 10 s.
    pub async fn posts_result_of(&self, request_id: &Value) -> bool {
        super::eventually(std::time::Duration::from_secs(10), || async {
            self.callbacks()
                .iter()
                .any(|c| c.url.ends_with("/callback/async") && &c.body["request_id"] == request_id)
        })
        .await
    }

    /// Registers a session the way the login playbook would, and returns its token.
    pub fn add_session(&self, user_id: i64, email: &str, roles: Value) -> String {
        self.state.create_session(user_id, email, roles).0
    }

    pub fn set_session_expires_at(&self, token: &str, expires_at: &str) {
        if let Some(s) = lock(&self.state.sessions).get_mut(token) {
            s.expires_at = expires_at.to_owned();
        }
    }

    pub fn deactivate_session(&self, token: &str) {
        if let Some(s) = lock(&self.state.sessions).get_mut(token) {
            s.is_active = false;
        }
    }

    pub fn set_callback_secret(&self, secret: Option<&str>) {
        *lock(&self.state.callback_secret) = secret.map(str::to_owned);
    }

    pub fn set_rerun_supported(&self, on: bool) {
        self.state.rerun_supported.store(on, Ordering::SeqCst);
    }

    pub fn set_legacy_status(&self, on: bool) {
        self.state.legacy_status.store(on, Ordering::SeqCst);
    }

    pub fn set_stall(&self, stall: Duration) {
        self.state
            .stall_ms
            .store(stall.as_millis() as u64, Ordering::SeqCst);
    }

    /// Moves an execution to a final state, as the engine would.
    pub fn finish(&self, id: u64, status: &str) {
        self.state.set_status(id, status, None);
    }
}

impl Drop for NoetlStandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
