//! App: the gateway's metrics, kept in memory (atomics behind a label map) and written as
//! Prometheus text by the internal listener's `/metrics` route.

mod family;
mod render;

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use family::{Counter, Family, Histogram};

/// A label value: static where the set is closed, owned where it is a number.
pub type Label = Cow<'static, str>;

/// Every metric the gateway keeps. One per process, shared as `Arc<Metrics>`.
#[derive(Debug, Default)]
pub struct Metrics {
    http: Family<3, Histogram>,
    sessions: SessionCounters,
    noetl: Family<2, Histogram>,
    callbacks: Family<2, Counter>,
    sse_open: AtomicI64,
    sse_opened: Counter,
    auth_refused: Counter,
    auth_waiting: AtomicI64,
    proxy_refused: Counter,
    streams_refused: Counter,
    proxy_connections: AtomicI64,
    public_connections: ListenerConnections,
    internal_connections: ListenerConnections,
    nats_connected: AtomicI64,
    open_files: AtomicI64,
    open_files_limit: AtomicI64,
}

/// One of the gateway's two listeners, whose client connections are counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Browsers and CLIs (`ROUTER_PORT`).
    Public,
    /// Worker callbacks and metrics scrapes (`GATEWAY_INTERNAL_PORT`).
    Internal,
}

/// A listener's client connections: open now, the bound, and those refused at it.
#[derive(Debug, Default)]
struct ListenerConnections {
    open: AtomicI64,
    limit: AtomicI64,
    refused: Counter,
}

impl ListenerConnections {
    fn render(&self, out: &mut render::Writer, names: &ConnectionNames) {
        let [open, limit, refused] = names;
        out.gauge(open.0, open.1, self.open.load(Ordering::Relaxed));
        out.gauge(limit.0, limit.1, self.limit.load(Ordering::Relaxed));
        out.counter(refused.0, refused.1, self.refused.value());
    }
}

/// The names and help texts of a listener's open, limit and refused counts.
type ConnectionNames = [(&'static str, &'static str); 3];

const PUBLIC_CONNECTIONS: ConnectionNames = [
    (
        "gateway_connections_open",
        "Client connections open on the public listener now.",
    ),
    (
        "gateway_connections_limit",
        "The most client connections the public listener holds open (GATEWAY_MAX_CONNECTIONS).",
    ),
    (
        "gateway_connections_refused_total",
        "Client connections answered 503 and closed because GATEWAY_MAX_CONNECTIONS were open.",
    ),
];

const INTERNAL_CONNECTIONS: ConnectionNames = [
    (
        "gateway_internal_connections_open",
        "Connections open on the internal listener now (workers' callbacks, scrapes).",
    ),
    (
        "gateway_internal_connections_limit",
        "The most connections the internal listener holds open (GATEWAY_INTERNAL_MAX_CONNECTIONS).",
    ),
    (
        "gateway_internal_connections_refused_total",
        "Connections to the internal listener answered 503 and closed because GATEWAY_INTERNAL_MAX_CONNECTIONS were open.",
    ),
];

/// Session lookups by level and outcome. Every pair is made at start, so each series is
/// there from the first scrape, and counting one goes straight to its counter.
#[derive(Debug)]
struct SessionCounters {
    family: Family<2, Counter>,
    /// By `SessionLevel`, then `LookupOutcome`, each in its `ALL` order (its declaration
    /// order, which indexes it).
    handles: [[Arc<Counter>; 4]; 3],
}

impl Default for SessionCounters {
    fn default() -> Self {
        let family = Family::default();
        let handles = SessionLevel::ALL.map(|level| {
            LookupOutcome::ALL.map(|outcome| {
                family.get([Cow::Borrowed(level.label()), Cow::Borrowed(outcome.label())])
            })
        });
        Self { family, handles }
    }
}

/// Where a session lookup was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLevel {
    /// The in-process cache.
    Local,
    /// The shared K/V bucket.
    Shared,
    /// NoETL (its session route or the validate playbook).
    Backend,
}

/// What a session lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupOutcome {
    Hit,
    Miss,
    Invalid,
    Error,
}

impl SessionLevel {
    /// In declaration order.
    const ALL: [Self; 3] = [Self::Local, Self::Shared, Self::Backend];

    fn label(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Shared => "shared",
            Self::Backend => "noetl",
        }
    }
}

impl LookupOutcome {
    /// In declaration order.
    const ALL: [Self; 4] = [Self::Hit, Self::Miss, Self::Invalid, Self::Error];

    fn label(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Invalid => "invalid",
            Self::Error => "error",
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// One HTTP request answered: `route` is a template, never a raw path.
    pub fn http_request(&self, route: &'static str, method: Label, status: u16, took: Duration) {
        self.http
            .get([Cow::Borrowed(route), method, status_label(status)])
            .observe(took);
    }

    pub fn session_lookup(&self, level: SessionLevel, outcome: LookupOutcome) {
        self.sessions.handles[level as usize][outcome as usize].increment();
    }

    /// One call to NoETL's REST API; `outcome` is `ok` (any answer below 500),
    /// `server_error`, `timeout` or `unavailable`.
    pub fn noetl_call(&self, operation: &'static str, outcome: &'static str, took: Duration) {
        self.noetl
            .get([Cow::Borrowed(operation), Cow::Borrowed(outcome)])
            .observe(took);
    }

    /// One worker callback: `kind` is `auth` (login, validate, check-access), `result` or
    /// `progress`; `outcome` is
    /// `delivered`, `queued` or `rejected`.
    pub fn callback(&self, kind: &'static str, outcome: &'static str) {
        self.callbacks
            .get([Cow::Borrowed(kind), Cow::Borrowed(outcome)])
            .increment();
    }

    /// An SSE stream opened; the guard counts it as open until dropped.
    pub fn sse_opened(self: &std::sync::Arc<Self>) -> SseGuard {
        self.sse_opened.increment();
        self.sse_open.fetch_add(1, Ordering::Relaxed);
        SseGuard(self.clone())
    }

    /// An auth operation refused because the replica already waits on NoETL for as many as
    /// it may (`GATEWAY_AUTH_MAX_PENDING`).
    pub fn auth_refused(&self) {
        self.auth_refused.increment();
    }

    /// Auth operations waiting on NoETL now, as last read.
    pub fn set_auth_waiting(&self, waiting: usize) {
        self.auth_waiting.store(gauge(waiting), Ordering::Relaxed);
    }

    /// A proxied request refused because as many connections to NoETL were open as the
    /// replica may hold (`GATEWAY_PROXY_MAX_CONNECTIONS`).
    pub fn proxy_refused(&self) {
        self.proxy_refused.increment();
    }

    /// An SSE stream or GraphQL subscription refused because its session held as many open
    /// on this replica as it may (`GATEWAY_MAX_STREAMS_PER_SESSION`).
    pub fn stream_refused(&self) {
        self.streams_refused.increment();
    }

    /// The connection counts of `listener`.
    fn connections(&self, listener: Listener) -> &ListenerConnections {
        match listener {
            Listener::Public => &self.public_connections,
            Listener::Internal => &self.internal_connections,
        }
    }

    /// A client connection admitted by `listener`.
    pub fn connection_opened(&self, listener: Listener) {
        self.connections(listener)
            .open
            .fetch_add(1, Ordering::Relaxed);
    }

    /// An admitted client connection of `listener` closed.
    pub fn connection_closed(&self, listener: Listener) {
        self.connections(listener)
            .open
            .fetch_sub(1, Ordering::Relaxed);
    }

    /// A client connection refused because `listener` held as many as it may
    /// (`GATEWAY_MAX_CONNECTIONS`, `GATEWAY_INTERNAL_MAX_CONNECTIONS`).
    pub fn connection_refused(&self, listener: Listener) {
        self.connections(listener).refused.increment();
    }

    /// The bound on `listener`'s open connections.
    pub fn set_connection_limit(&self, listener: Listener, at_most: usize) {
        self.connections(listener)
            .limit
            .store(gauge(at_most), Ordering::Relaxed);
    }

    /// The proxy's connections to NoETL open now (in use or idle), as last read.
    pub fn set_proxy_connections(&self, open: usize) {
        self.proxy_connections.store(gauge(open), Ordering::Relaxed);
    }

    /// Whether the NATS connection is up (1), down (0), or not configured (-1).
    pub fn set_nats_connected(&self, state: i64) {
        self.nats_connected.store(state, Ordering::Relaxed);
    }

    /// Descriptors open now and the soft limit on them (`None`: no limit), as last read.
    pub fn set_open_files(&self, open: u64, limit: Option<u64>) {
        self.open_files.store(gauge(open), Ordering::Relaxed);
        self.open_files_limit
            .store(limit.map_or(i64::MAX, gauge), Ordering::Relaxed);
    }

    /// Everything, as Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = render::Writer::default();
        out.histograms(
            "gateway_http_request_duration_seconds",
            "HTTP requests by route template, method and status, with latency.",
            &["route", "method", "status"],
            &self.http,
        );
        out.counters(
            "gateway_session_lookups_total",
            "Session lookups by the level that answered and what it found.",
            &["level", "outcome"],
            &self.sessions.family,
        );
        out.histograms(
            "gateway_noetl_request_duration_seconds",
            "Calls to NoETL's REST API by operation and outcome, with latency.",
            &["operation", "outcome"],
            &self.noetl,
        );
        out.counters(
            "gateway_callbacks_total",
            "Worker callbacks by kind and outcome.",
            &["kind", "outcome"],
            &self.callbacks,
        );
        out.gauge(
            "gateway_sse_connections",
            "SSE streams open now.",
            self.sse_open.load(Ordering::Relaxed),
        );
        out.counter(
            "gateway_sse_connections_total",
            "SSE streams opened since start.",
            self.sse_opened.value(),
        );
        out.counter(
            "gateway_auth_refused_total",
            "Auth operations refused at once because GATEWAY_AUTH_MAX_PENDING were waiting on NoETL.",
            self.auth_refused.value(),
        );
        out.gauge(
            "gateway_auth_backend_waiting",
            "Auth operations waiting on NoETL now (at most GATEWAY_AUTH_MAX_PENDING).",
            self.auth_waiting.load(Ordering::Relaxed),
        );
        out.counter(
            "gateway_proxy_refused_total",
            "Proxied requests refused at once because GATEWAY_PROXY_MAX_CONNECTIONS connections to NoETL were open.",
            self.proxy_refused.value(),
        );
        out.counter(
            "gateway_streams_refused_total",
            "SSE streams and GraphQL subscriptions refused because their session held GATEWAY_MAX_STREAMS_PER_SESSION open on this replica.",
            self.streams_refused.value(),
        );
        out.gauge(
            "gateway_proxy_upstream_connections",
            "The proxy's connections to NoETL open now, in use or idle (at most GATEWAY_PROXY_MAX_CONNECTIONS).",
            self.proxy_connections.load(Ordering::Relaxed),
        );
        self.public_connections
            .render(&mut out, &PUBLIC_CONNECTIONS);
        self.internal_connections
            .render(&mut out, &INTERNAL_CONNECTIONS);
        out.gauge(
            "gateway_nats_connected",
            "1 when connected to NATS, 0 when configured but away, -1 in memory mode.",
            self.nats_connected.load(Ordering::Relaxed),
        );
        // The names Prometheus's process collectors use; left out until first read.
        let limit = self.open_files_limit.load(Ordering::Relaxed);
        if limit > 0 {
            out.gauge(
                "process_open_fds",
                "Open file descriptors (connections, streams, files).",
                self.open_files.load(Ordering::Relaxed),
            );
            out.gauge(
                "process_max_fds",
                "The soft limit on open file descriptors.",
                limit,
            );
        }
        out.finish()
    }
}

/// A count as a gauge's value (the largest one past `i64::MAX`).
fn gauge(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// The label of an HTTP status; the common ones without an allocation.
fn status_label(status: u16) -> Label {
    let common = match status {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return Cow::Owned(status.to_string()),
    };
    Cow::Borrowed(common)
}

/// Counts one open SSE stream until dropped.
#[derive(Debug)]
pub struct SseGuard(std::sync::Arc<Metrics>);

impl Drop for SseGuard {
    fn drop(&mut self) {
        self.0.sse_open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
