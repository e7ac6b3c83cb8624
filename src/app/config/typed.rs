//! App (config): the validated configuration the composition root is built from.

use std::net::SocketAddr;
use std::time::Duration;

use crate::adapters::nats::redact_url;
use crate::adapters::noetl::NoetlSettings;
use crate::app::auth::AuthMode;
use crate::domain::PlaybookPath;

use super::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// `None`: single-replica mode, everything in memory.
    pub url: Option<String>,
    pub callback_subject_prefix: String,
    pub session_bucket: String,
    pub session_ttl: Duration,
    pub updates_subject_prefix: String,
    pub request_bucket: String,
    pub request_ttl: Duration,
    /// Replicas of the K/V buckets and streams the gateway creates (1, or 3 on a cluster).
    pub replicas: usize,
}

#[derive(Debug, Clone)]
pub struct CorsConfig {
    pub allowed_origins: Vec<String>,
    pub allow_credentials: bool,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub login_playbook: PlaybookPath,
    /// `None`: validate through NoETL's synchronous session route.
    pub validate_playbook: Option<PlaybookPath>,
    pub check_access_playbook: PlaybookPath,
    pub playbook_timeout: Duration,
    /// Auth operations one replica waits on NoETL for at once; more are refused until one
    /// ends.
    pub max_pending: usize,
    pub mode: AuthMode,
    /// Require `allowed:true` from the access check before executing a playbook.
    pub enforce_playbook_access: bool,
    /// How long a logout is remembered (longer than any session lives).
    pub revocation_ttl: Duration,
    /// Most sessions held by the in-process level.
    pub local_capacity: usize,
    /// How long an unknown token is remembered as unknown.
    pub negative_ttl: Duration,
}

/// Limits of the GraphQL endpoint.
#[derive(Debug, Clone, Copy)]
pub struct GraphqlConfig {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub introspection: bool,
}

/// Retention of the per-client event log.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    pub stream: String,
    pub retention: Duration,
    pub max_bytes: u64,
    /// SSE streams and GraphQL subscriptions one session may hold open on one replica.
    pub max_streams_per_session: usize,
}

/// The streaming proxy's bounds and path policy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub policy: crate::domain::PathPolicy,
    pub max_body_bytes: usize,
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    /// Connections to NoETL held open for the proxy at once, in use or idle.
    pub max_connections: usize,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub public_addr: SocketAddr,
    pub internal_addr: SocketAddr,
    /// The `gateway_url` handed to playbooks; `None`: this replica's internal listener.
    pub internal_url: Option<String>,
    pub noetl: NoetlSettings,
    pub nats: NatsConfig,
    pub cors: CorsConfig,
    pub auth: AuthConfig,
    pub heartbeat_interval: Duration,
    pub callback_secret: Option<Secret>,
    pub drain_deadline: Duration,
    /// A connection whose peer takes nothing written to it for this long is closed.
    pub send_timeout: Duration,
    /// A connection without a request in flight for this long is closed (kept-alive ones left
    /// idle, and clients that send a request's head too slowly ever to finish it).
    pub idle_timeout: Duration,
    /// The bytes per second a request body being read must bring, averaged over the idle
    /// period (0: only a period with nothing at all fails it).
    pub min_body_rate: u64,
    /// The most client connections the public listener holds open; `None`: derived from the
    /// open-file limit at start-up.
    pub max_connections: Option<usize>,
    /// The most connections the internal listener holds open (workers' callbacks, scrapes).
    pub internal_max_connections: usize,
    pub max_body_bytes: usize,
    pub log_format: LogFormat,
    pub graphql: GraphqlConfig,
    pub events: EventsConfig,
    pub watch: crate::app::watcher::WatchSettings,
    pub proxy: ProxyConfig,
}

impl Config {
    /// The effective settings as `KEY = value` lines, secrets redacted.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let secs = |d: Duration| d.as_secs().to_string();
        let or_none = |v: Option<String>| v.unwrap_or_else(|| "(unset)".to_owned());
        vec![
            ("public listener", self.public_addr.to_string()),
            ("internal listener", self.internal_addr.to_string()),
            (
                "GATEWAY_INTERNAL_URL",
                or_none(self.internal_url.clone())
                    .replace("(unset)", "(this replica's internal listener)"),
            ),
            ("NOETL_BASE_URL", self.noetl.base_url.clone()),
            (
                "NOETL_CONNECT_TIMEOUT_MS",
                self.noetl.connect_timeout.as_millis().to_string(),
            ),
            (
                "NOETL_REQUEST_TIMEOUT_MS",
                self.noetl.request_timeout.as_millis().to_string(),
            ),
            (
                "NATS_URL",
                self.nats
                    .url
                    .as_deref()
                    .map(redact_url)
                    .unwrap_or_else(|| "memory (single replica)".to_owned()),
            ),
            (
                "NATS_CALLBACK_SUBJECT_PREFIX",
                self.nats.callback_subject_prefix.clone(),
            ),
            ("NATS_SESSION_BUCKET", self.nats.session_bucket.clone()),
            ("NATS_SESSION_CACHE_TTL_SECS", secs(self.nats.session_ttl)),
            (
                "NATS_UPDATES_SUBJECT_PREFIX",
                self.nats.updates_subject_prefix.clone(),
            ),
            ("NATS_REQUEST_BUCKET", self.nats.request_bucket.clone()),
            ("NATS_REQUEST_TTL_SECS", secs(self.nats.request_ttl)),
            ("CORS_ALLOWED_ORIGINS", self.cors.allowed_origins.join(",")),
            (
                "CORS_ALLOW_CREDENTIALS",
                self.cors.allow_credentials.to_string(),
            ),
            ("AUTH_PLAYBOOK_LOGIN", self.auth.login_playbook.to_string()),
            (
                "AUTH_PLAYBOOK_VALIDATE_SESSION",
                or_none(
                    self.auth
                        .validate_playbook
                        .as_ref()
                        .map(ToString::to_string),
                ),
            ),
            (
                "AUTH_PLAYBOOK_CHECK_ACCESS",
                self.auth.check_access_playbook.to_string(),
            ),
            (
                "AUTH_SESSION_DB_CREDENTIAL",
                self.noetl.session_credential.clone(),
            ),
            (
                "AUTH_PLAYBOOK_TIMEOUT_SECS",
                secs(self.auth.playbook_timeout),
            ),
            (
                "GATEWAY_AUTH_MAX_PENDING",
                self.auth.max_pending.to_string(),
            ),
            (
                "GATEWAY_AUTH_MODE",
                match self.auth.mode {
                    AuthMode::Playbook => "playbook",
                    AuthMode::Direct => "direct",
                }
                .to_owned(),
            ),
            (
                "GATEWAY_ENFORCE_PLAYBOOK_ACCESS",
                self.auth.enforce_playbook_access.to_string(),
            ),
            (
                "GATEWAY_SESSION_REVOCATION_TTL_SECS",
                secs(self.auth.revocation_ttl),
            ),
            (
                "GATEWAY_SESSION_LOCAL_CAPACITY",
                self.auth.local_capacity.to_string(),
            ),
            (
                "GATEWAY_SESSION_NEGATIVE_TTL_SECS",
                secs(self.auth.negative_ttl),
            ),
            ("NATS_KV_REPLICAS", self.nats.replicas.to_string()),
            (
                "GATEWAY_GRAPHQL_MAX_DEPTH",
                self.graphql.max_depth.to_string(),
            ),
            (
                "GATEWAY_GRAPHQL_MAX_COMPLEXITY",
                self.graphql.max_complexity.to_string(),
            ),
            (
                "GATEWAY_GRAPHQL_MAX_ALIASES",
                self.graphql.max_aliases.to_string(),
            ),
            (
                "GATEWAY_GRAPHQL_INTROSPECTION",
                self.graphql.introspection.to_string(),
            ),
            ("GATEWAY_EVENT_STREAM", self.events.stream.clone()),
            ("GATEWAY_EVENT_RETENTION_SECS", secs(self.events.retention)),
            ("GATEWAY_EVENT_MAX_BYTES", self.events.max_bytes.to_string()),
            (
                "GATEWAY_MAX_STREAMS_PER_SESSION",
                self.events.max_streams_per_session.to_string(),
            ),
            (
                "GATEWAY_WATCH_INTERVAL_MS",
                self.watch.interval.as_millis().to_string(),
            ),
            ("GATEWAY_WATCH_GRACE_SECS", secs(self.watch.grace)),
            (
                "GATEWAY_PROXY_MAX_BODY_BYTES",
                self.proxy.max_body_bytes.to_string(),
            ),
            ("GATEWAY_PROXY_POLICY", format!("{:?}", self.proxy.policy)),
            (
                "GATEWAY_PROXY_CONNECT_TIMEOUT_MS",
                self.proxy.connect_timeout.as_millis().to_string(),
            ),
            (
                "GATEWAY_PROXY_FIRST_BYTE_TIMEOUT_MS",
                self.proxy.first_byte_timeout.as_millis().to_string(),
            ),
            (
                "GATEWAY_PROXY_MAX_CONNECTIONS",
                self.proxy.max_connections.to_string(),
            ),
            (
                "GATEWAY_HEARTBEAT_INTERVAL_SECS",
                secs(self.heartbeat_interval),
            ),
            (
                "GATEWAY_CALLBACK_SECRET",
                if self.callback_secret.is_some() {
                    "<redacted>"
                } else {
                    "(unset)"
                }
                .to_owned(),
            ),
            ("GATEWAY_DRAIN_SECS", secs(self.drain_deadline)),
            ("GATEWAY_SEND_TIMEOUT_SECS", secs(self.send_timeout)),
            ("GATEWAY_IDLE_TIMEOUT_SECS", secs(self.idle_timeout)),
            (
                "GATEWAY_MIN_BODY_BYTES_PER_SEC",
                self.min_body_rate.to_string(),
            ),
            ("GATEWAY_MAX_BODY_BYTES", self.max_body_bytes.to_string()),
            (
                "GATEWAY_MAX_CONNECTIONS",
                self.max_connections.map_or_else(
                    || "(from the open-file limit)".to_owned(),
                    |n| n.to_string(),
                ),
            ),
            (
                "GATEWAY_INTERNAL_MAX_CONNECTIONS",
                self.internal_max_connections.to_string(),
            ),
            (
                "LOG_FORMAT",
                match self.log_format {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }
                .to_owned(),
            ),
        ]
    }
}
