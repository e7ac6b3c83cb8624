//! App (config): the raw, loosely typed settings figment reads from defaults, an optional
//! TOML file and the environment. Keys are the environment names in lower case.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every environment variable the gateway reads, as written in the environment.
pub const ENV_KEYS: &[&str] = &[
    "ROUTER_PORT",
    "GATEWAY_BIND_HOST",
    "GATEWAY_INTERNAL_PORT",
    "GATEWAY_INTERNAL_BIND_HOST",
    "GATEWAY_INTERNAL_URL",
    "GATEWAY_PUBLIC_URL",
    "NOETL_BASE_URL",
    "NOETL_CONNECT_TIMEOUT_MS",
    "NOETL_REQUEST_TIMEOUT_MS",
    "NATS_URL",
    "NATS_CALLBACK_SUBJECT_PREFIX",
    "NATS_SESSION_BUCKET",
    "NATS_SESSION_CACHE_TTL_SECS",
    "NATS_UPDATES_SUBJECT_PREFIX",
    "NATS_REQUEST_BUCKET",
    "NATS_REQUEST_TTL_SECS",
    "CORS_ALLOWED_ORIGINS",
    "CORS_ALLOW_CREDENTIALS",
    "AUTH_PLAYBOOK_LOGIN",
    "AUTH_PLAYBOOK_VALIDATE_SESSION",
    "AUTH_PLAYBOOK_CHECK_ACCESS",
    "AUTH_SESSION_DB_CREDENTIAL",
    "AUTH_PLAYBOOK_TIMEOUT_SECS",
    "GATEWAY_HEARTBEAT_INTERVAL_SECS",
    "GATEWAY_CALLBACK_SECRET",
    "GATEWAY_DRAIN_SECS",
    "GATEWAY_SEND_TIMEOUT_SECS",
    "GATEWAY_IDLE_TIMEOUT_SECS",
    "GATEWAY_MIN_BODY_BYTES_PER_SEC",
    "GATEWAY_MAX_BODY_BYTES",
    "GATEWAY_MAX_CONNECTIONS",
    "GATEWAY_INTERNAL_MAX_CONNECTIONS",
    "LOG_FORMAT",
    "GATEWAY_AUTH_MODE",
    "GATEWAY_ENFORCE_PLAYBOOK_ACCESS",
    "GATEWAY_SESSION_REVOCATION_TTL_SECS",
    "GATEWAY_SESSION_LOCAL_CAPACITY",
    "GATEWAY_AUTH_MAX_PENDING",
    "GATEWAY_SESSION_NEGATIVE_TTL_SECS",
    "NATS_KV_REPLICAS",
    "GATEWAY_GRAPHQL_MAX_DEPTH",
    "GATEWAY_GRAPHQL_MAX_COMPLEXITY",
    "GATEWAY_GRAPHQL_MAX_ALIASES",
    "GATEWAY_GRAPHQL_INTROSPECTION",
    "GATEWAY_EVENT_STREAM",
    "GATEWAY_EVENT_RETENTION_SECS",
    "GATEWAY_EVENT_MAX_BYTES",
    "GATEWAY_MAX_STREAMS_PER_SESSION",
    "GATEWAY_WATCH_INTERVAL_MS",
    "GATEWAY_WATCH_GRACE_SECS",
    "GATEWAY_PROXY_MAX_BODY_BYTES",
    "GATEWAY_PROXY_CONNECT_TIMEOUT_MS",
    "GATEWAY_PROXY_FIRST_BYTE_TIMEOUT_MS",
    "GATEWAY_PROXY_MAX_CONNECTIONS",
    "GATEWAY_PROXY_POLICY",
];

/// A string setting that also accepts a number or boolean (the environment has no types,
/// so `NATS_SESSION_BUCKET=2024` must still read as text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AnyScalar;
        impl Visitor<'_> for AnyScalar {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_char<E: de::Error>(self, v: char) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(AnyScalar)
    }
}

/// The settings as read, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub router_port: u16,
    pub gateway_bind_host: Text,
    pub gateway_internal_port: u16,
    pub gateway_internal_bind_host: Text,
    pub gateway_internal_url: Text,
    pub gateway_public_url: Text,
    pub noetl_base_url: Text,
    pub noetl_connect_timeout_ms: u64,
    pub noetl_request_timeout_ms: u64,
    pub nats_url: Text,
    pub nats_callback_subject_prefix: Text,
    pub nats_session_bucket: Text,
    pub nats_session_cache_ttl_secs: u64,
    pub nats_updates_subject_prefix: Text,
    pub nats_request_bucket: Text,
    pub nats_request_ttl_secs: u64,
    pub cors_allowed_origins: Text,
    pub cors_allow_credentials: bool,
    pub auth_playbook_login: Text,
    pub auth_playbook_validate_session: Text,
    pub auth_playbook_check_access: Text,
    pub auth_session_db_credential: Text,
    pub auth_playbook_timeout_secs: u64,
    pub gateway_auth_max_pending: u64,
    pub gateway_heartbeat_interval_secs: u64,
    pub gateway_callback_secret: Text,
    pub gateway_drain_secs: u64,
    pub gateway_send_timeout_secs: u64,
    pub gateway_idle_timeout_secs: u64,
    pub gateway_min_body_bytes_per_sec: u64,
    pub gateway_max_body_bytes: u64,
    pub log_format: Text,
    pub gateway_auth_mode: Text,
    pub gateway_enforce_playbook_access: bool,
    pub gateway_session_revocation_ttl_secs: u64,
    pub gateway_session_local_capacity: u64,
    pub gateway_session_negative_ttl_secs: u64,
    pub nats_kv_replicas: u8,
    pub gateway_graphql_max_depth: u16,
    pub gateway_graphql_max_complexity: u32,
    pub gateway_graphql_max_aliases: u16,
    pub gateway_graphql_introspection: bool,
    pub gateway_event_stream: Text,
    pub gateway_event_retention_secs: u64,
    pub gateway_event_max_bytes: u64,
    pub gateway_max_streams_per_session: u64,
    /// 0: derived from the open-file limit at start-up.
    pub gateway_max_connections: u64,
    pub gateway_internal_max_connections: u64,
    pub gateway_watch_interval_ms: u64,
    pub gateway_watch_grace_secs: u64,
    pub gateway_proxy_max_body_bytes: u64,
    pub gateway_proxy_connect_timeout_ms: u64,
    pub gateway_proxy_first_byte_timeout_ms: u64,
    pub gateway_proxy_max_connections: u64,
    pub gateway_proxy_policy: Text,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            router_port: 8090,
            gateway_bind_host: "0.0.0.0".into(),
            gateway_internal_port: 8091,
            gateway_internal_bind_host: "0.0.0.0".into(),
            gateway_internal_url: Text::default(),
            gateway_public_url: Text::default(),
            noetl_base_url: "http://localhost:8082".into(),
            noetl_connect_timeout_ms: 1_000,
            noetl_request_timeout_ms: 10_000,
            nats_url: "nats://127.0.0.1:4222".into(),
            nats_callback_subject_prefix: "noetl.callbacks".into(),
            nats_session_bucket: "sessions".into(),
            nats_session_cache_ttl_secs: 300,
            nats_updates_subject_prefix: "playbooks.executions.".into(),
            nats_request_bucket: "requests".into(),
            nats_request_ttl_secs: 1_800,
            cors_allowed_origins: Text::default(),
            cors_allow_credentials: true,
            auth_playbook_login: "api_integration/auth0/auth0_login".into(),
            auth_playbook_validate_session: Text::default(),
            auth_playbook_check_access: "api_integration/auth0/check_playbook_access".into(),
            auth_session_db_credential: "pg_auth".into(),
            auth_playbook_timeout_secs: 15,
            gateway_auth_max_pending: 512,
            gateway_heartbeat_interval_secs: 30,
            gateway_callback_secret: Text::default(),
            gateway_drain_secs: 10,
            gateway_send_timeout_secs: 60,
            gateway_idle_timeout_secs: 75,
            gateway_min_body_bytes_per_sec: 240,
            gateway_max_body_bytes: 1024 * 1024,
            log_format: "text".into(),
            gateway_auth_mode: "playbook".into(),
            gateway_enforce_playbook_access: false,
            gateway_session_revocation_ttl_secs: 7 * 24 * 3600,
            gateway_session_local_capacity: 100_000,
            gateway_session_negative_ttl_secs: 5,
            nats_kv_replicas: 1,
            gateway_graphql_max_depth: 12,
            gateway_graphql_max_complexity: 500,
            gateway_graphql_max_aliases: 30,
            gateway_graphql_introspection: true,
            gateway_event_stream: "NOETL_GATEWAY_EVENTS".into(),
            gateway_event_retention_secs: 24 * 3600,
            gateway_event_max_bytes: 1024 * 1024 * 1024,
            gateway_max_streams_per_session: 256,
            gateway_max_connections: 0,
            gateway_internal_max_connections: 1024,
            gateway_watch_interval_ms: 1_000,
            gateway_watch_grace_secs: 2,
            gateway_proxy_max_body_bytes: 10 * 1024 * 1024,
            gateway_proxy_connect_timeout_ms: 1_000,
            gateway_proxy_first_byte_timeout_ms: 30_000,
            gateway_proxy_max_connections: 1024,
            gateway_proxy_policy: Text::default(),
        }
    }
}
