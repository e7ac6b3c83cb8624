//! App (config): the rules that turn [`RawConfig`] into a typed [`Config`].

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use crate::adapters::noetl::NoetlSettings;
use crate::app::auth::AuthMode;
use crate::domain::PlaybookPath;

use super::raw::{RawConfig, Text};
use super::typed::{
    AuthConfig, Config, CorsConfig, EventsConfig, GraphqlConfig, LogFormat, NatsConfig, ProxyConfig,
};
use super::{ConfigError, Secret};

pub(super) fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    let public_addr = SocketAddr::new(
        host("GATEWAY_BIND_HOST", &raw.gateway_bind_host)?,
        raw.router_port,
    );
    let internal_addr = SocketAddr::new(
        host(
            "GATEWAY_INTERNAL_BIND_HOST",
            &raw.gateway_internal_bind_host,
        )?,
        raw.gateway_internal_port,
    );
    if raw.router_port != 0 && raw.router_port == raw.gateway_internal_port {
        return Err(ConfigError::new(
            "GATEWAY_INTERNAL_PORT",
            format!("equals ROUTER_PORT ({})", raw.router_port),
            "give the internal listener its own port (default 8091)",
        ));
    }
    let internal_url =
        match non_empty(&raw.gateway_internal_url).or(non_empty(&raw.gateway_public_url)) {
            Some(url) => Some(http_url("GATEWAY_INTERNAL_URL", url, true)?),
            None => None,
        };
    let noetl = NoetlSettings {
        base_url: http_url("NOETL_BASE_URL", raw.noetl_base_url.0.trim(), false)?,
        connect_timeout: millis("NOETL_CONNECT_TIMEOUT_MS", raw.noetl_connect_timeout_ms)?,
        request_timeout: millis("NOETL_REQUEST_TIMEOUT_MS", raw.noetl_request_timeout_ms)?,
        session_credential: required(
            "AUTH_SESSION_DB_CREDENTIAL",
            &raw.auth_session_db_credential,
        )?,
    };
    let nats = NatsConfig {
        url: nats_url(&raw.nats_url)?,
        callback_subject_prefix: subject(
            "NATS_CALLBACK_SUBJECT_PREFIX",
            &raw.nats_callback_subject_prefix,
        )?,
        session_bucket: bucket("NATS_SESSION_BUCKET", &raw.nats_session_bucket)?,
        session_ttl: secs(
            "NATS_SESSION_CACHE_TTL_SECS",
            raw.nats_session_cache_ttl_secs,
        )?,
        updates_subject_prefix: subject(
            "NATS_UPDATES_SUBJECT_PREFIX",
            &raw.nats_updates_subject_prefix,
        )?,
        request_bucket: bucket("NATS_REQUEST_BUCKET", &raw.nats_request_bucket)?,
        request_ttl: secs("NATS_REQUEST_TTL_SECS", raw.nats_request_ttl_secs)?,
        replicas: match raw.nats_kv_replicas {
            1..=5 => usize::from(raw.nats_kv_replicas),
            n => {
                return Err(ConfigError::new(
                    "NATS_KV_REPLICAS",
                    format!("{n} is outside 1..=5"),
                    "set it to 1, or 3 on a three-node JetStream cluster",
                ));
            }
        },
    };
    let cors = CorsConfig {
        allowed_origins: raw
            .cors_allowed_origins
            .0
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect(),
        allow_credentials: raw.cors_allow_credentials,
    };
    let auth = AuthConfig {
        login_playbook: playbook("AUTH_PLAYBOOK_LOGIN", &raw.auth_playbook_login.0)?,
        validate_playbook: non_empty(&raw.auth_playbook_validate_session)
            .map(|p| playbook("AUTH_PLAYBOOK_VALIDATE_SESSION", p))
            .transpose()?,
        check_access_playbook: playbook(
            "AUTH_PLAYBOOK_CHECK_ACCESS",
            &raw.auth_playbook_check_access.0,
        )?,
        playbook_timeout: secs("AUTH_PLAYBOOK_TIMEOUT_SECS", raw.auth_playbook_timeout_secs)?,
        max_pending: count(
            "GATEWAY_AUTH_MAX_PENDING",
            raw.gateway_auth_max_pending,
            MAX_AT_ONCE,
            "the most auth operations one replica should wait on NoETL for at once (default 512)",
        )?,
        mode: match raw.gateway_auth_mode.0.trim().to_ascii_lowercase().as_str() {
            "" | "playbook" => AuthMode::Playbook,
            "direct" => AuthMode::Direct,
            other => {
                return Err(ConfigError::new(
                    "GATEWAY_AUTH_MODE",
                    format!("unknown mode {other:?}"),
                    "set it to playbook (auth playbooks) or direct (NoETL's auth routes)",
                ));
            }
        },
        enforce_playbook_access: raw.gateway_enforce_playbook_access,
        revocation_ttl: secs(
            "GATEWAY_SESSION_REVOCATION_TTL_SECS",
            raw.gateway_session_revocation_ttl_secs,
        )?,
        local_capacity: count(
            "GATEWAY_SESSION_LOCAL_CAPACITY",
            raw.gateway_session_local_capacity,
            usize::MAX,
            "the most sessions one replica should hold (default 100000)",
        )?,
        negative_ttl: secs(
            "GATEWAY_SESSION_NEGATIVE_TTL_SECS",
            raw.gateway_session_negative_ttl_secs,
        )?,
    };
    if raw.gateway_max_body_bytes < 1024 {
        return Err(ConfigError::new(
            "GATEWAY_MAX_BODY_BYTES",
            format!("{} is too small", raw.gateway_max_body_bytes),
            "set it to at least 1024 (default 1048576)",
        ));
    }
    let log_format = match raw.log_format.0.trim().to_ascii_lowercase().as_str() {
        "" | "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(ConfigError::new(
                "LOG_FORMAT",
                format!("unknown format {other:?}"),
                "set LOG_FORMAT to text or json",
            ));
        }
    };
    let positive = |key: &str, value: u64| {
        if value == 0 {
            Err(ConfigError::new(
                key,
                "must be greater than 0",
                format!("set {key} to a positive number"),
            ))
        } else {
            Ok(usize::try_from(value).unwrap_or(usize::MAX))
        }
    };
    let graphql = GraphqlConfig {
        max_depth: positive(
            "GATEWAY_GRAPHQL_MAX_DEPTH",
            u64::from(raw.gateway_graphql_max_depth),
        )?,
        max_complexity: positive(
            "GATEWAY_GRAPHQL_MAX_COMPLEXITY",
            u64::from(raw.gateway_graphql_max_complexity),
        )?,
        max_aliases: positive(
            "GATEWAY_GRAPHQL_MAX_ALIASES",
            u64::from(raw.gateway_graphql_max_aliases),
        )?,
        introspection: raw.gateway_graphql_introspection,
    };
    let events = EventsConfig {
        stream: bucket("GATEWAY_EVENT_STREAM", &raw.gateway_event_stream)?,
        retention: secs(
            "GATEWAY_EVENT_RETENTION_SECS",
            raw.gateway_event_retention_secs,
        )?,
        max_bytes: u64::try_from(positive(
            "GATEWAY_EVENT_MAX_BYTES",
            raw.gateway_event_max_bytes,
        )?)
        .unwrap_or(u64::MAX),
        max_streams_per_session: count(
            "GATEWAY_MAX_STREAMS_PER_SESSION",
            raw.gateway_max_streams_per_session,
            MAX_AT_ONCE,
            "the most event streams one session should hold open on one replica (default 256)",
        )?,
    };
    Ok(Config {
        public_addr,
        internal_addr,
        internal_url,
        noetl,
        nats,
        cors,
        auth,
        heartbeat_interval: secs(
            "GATEWAY_HEARTBEAT_INTERVAL_SECS",
            raw.gateway_heartbeat_interval_secs,
        )?,
        callback_secret: non_empty(&raw.gateway_callback_secret).map(Secret::new),
        drain_deadline: Duration::from_secs(raw.gateway_drain_secs),
        send_timeout: secs("GATEWAY_SEND_TIMEOUT_SECS", raw.gateway_send_timeout_secs)?,
        idle_timeout: secs(
            "GATEWAY_IDLE_TIMEOUT_SECS",
            raw.gateway_idle_timeout_secs,
        )?,
        min_body_rate: min_body_rate(raw.gateway_min_body_bytes_per_sec)?,
        max_connections: match raw.gateway_max_connections {
            0 => None,
            n => Some(count(
                "GATEWAY_MAX_CONNECTIONS",
                n,
                MAX_AT_ONCE,
                "the most client connections one replica should hold open (0, the default, derives it from the open-file limit)",
            )?),
        },
        internal_max_connections: count(
            "GATEWAY_INTERNAL_MAX_CONNECTIONS",
            raw.gateway_internal_max_connections,
            MAX_AT_ONCE,
            "the most connections the internal listener should hold open (default 1024)",
        )?,
        max_body_bytes: usize::try_from(raw.gateway_max_body_bytes).unwrap_or(usize::MAX),
        log_format,
        graphql,
        events,
        watch: crate::app::watcher::WatchSettings {
            interval: millis("GATEWAY_WATCH_INTERVAL_MS", raw.gateway_watch_interval_ms)?,
            grace: Duration::from_secs(raw.gateway_watch_grace_secs),
            max_backoff: Duration::from_secs(30),
        },
        proxy: ProxyConfig {
            policy: crate::domain::PathPolicy::parse(&raw.gateway_proxy_policy.0).map_err(|e| {
                ConfigError::new(
                    "GATEWAY_PROXY_POLICY",
                    e.reason().to_owned(),
                    "write rules as pattern=role[,role] joined by ';', e.g. credentials/**=admin;postgres/execute=admin",
                )
            })?,
            max_body_bytes: positive(
                "GATEWAY_PROXY_MAX_BODY_BYTES",
                raw.gateway_proxy_max_body_bytes,
            )?,
            connect_timeout: millis(
                "GATEWAY_PROXY_CONNECT_TIMEOUT_MS",
                raw.gateway_proxy_connect_timeout_ms,
            )?,
            first_byte_timeout: millis(
                "GATEWAY_PROXY_FIRST_BYTE_TIMEOUT_MS",
                raw.gateway_proxy_first_byte_timeout_ms,
            )?,
            max_connections: count(
                "GATEWAY_PROXY_MAX_CONNECTIONS",
                raw.gateway_proxy_max_connections,
                MAX_AT_ONCE,
                "the most connections one replica should hold open to NoETL for the proxy (default 1024)",
            )?,
        },
    })
}

fn non_empty(text: &Text) -> Option<&str> {
    Some(text.0.trim()).filter(|t| !t.is_empty())
}

fn required(key: &str, text: &Text) -> Result<String, ConfigError> {
    non_empty(text).map(str::to_owned).ok_or_else(|| {
        ConfigError::new(
            key,
            "is empty",
            format!("set {key} or unset it to use the default"),
        )
    })
}

fn host(key: &str, text: &Text) -> Result<IpAddr, ConfigError> {
    IpAddr::from_str(text.0.trim()).map_err(|_| {
        ConfigError::new(
            key,
            format!("{:?} is not an IP address", text.0),
            "use an IP such as 0.0.0.0 or 127.0.0.1",
        )
    })
}

/// The most a bound on what a replica holds at once may be set to (auth operations waiting
/// on NoETL, proxy connections, one session's event streams): far above what one replica can
/// hold, and within what a semaphore counts.
const MAX_AT_ONCE: usize = 1_000_000;

/// A count from 1 to `at_most`; `what` completes "set it to ...".
fn count(key: &str, value: u64, at_most: usize, what: &str) -> Result<usize, ConfigError> {
    let fix = || format!("set it to {what}");
    match usize::try_from(value) {
        Ok(n) if n > at_most => Err(ConfigError::new(
            key,
            format!("must be at most {at_most}"),
            fix(),
        )),
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::new(key, "must be a positive number", fix())),
    }
}

/// The most bytes per second a request body may be asked to keep up: far above any client
/// link, so that a larger value is a mistake (a unit of bits, or of bytes per period).
const MAX_MIN_BODY_RATE: u64 = 100 * 1024 * 1024;

fn min_body_rate(value: u64) -> Result<u64, ConfigError> {
    if value > MAX_MIN_BODY_RATE {
        return Err(ConfigError::new(
            "GATEWAY_MIN_BODY_BYTES_PER_SEC",
            format!("must be at most {MAX_MIN_BODY_RATE} bytes per second"),
            "set it to the slowest request body a client may send, in bytes per second (0: only a body that sends nothing for GATEWAY_IDLE_TIMEOUT_SECS is cut off)",
        ));
    }
    Ok(value)
}

fn secs(key: &str, value: u64) -> Result<Duration, ConfigError> {
    if value == 0 {
        return Err(ConfigError::new(
            key,
            "must be greater than 0",
            format!("set {key} to a number of seconds"),
        ));
    }
    Ok(Duration::from_secs(value))
}

fn millis(key: &str, value: u64) -> Result<Duration, ConfigError> {
    if value == 0 {
        return Err(ConfigError::new(
            key,
            "must be greater than 0",
            format!("set {key} to a number of milliseconds"),
        ));
    }
    Ok(Duration::from_millis(value))
}

/// `http://host[:port][/prefix]` without a trailing slash; `https` only where a peer, not
/// this process, makes the connection (the URL handed to workers).
fn http_url(key: &str, url: &str, https_ok: bool) -> Result<String, ConfigError> {
    let fix = if https_ok {
        format!("set {key} to a URL such as http://gateway-internal:8091")
    } else {
        format!("set {key} to a plain-HTTP URL such as http://noetl:8082 (put TLS in a sidecar)")
    };
    let scheme_ok = url.starts_with("http://") || (https_ok && url.starts_with("https://"));
    let uri = http::Uri::from_str(url)
        .ok()
        .filter(|u| u.authority().is_some() && u.query().is_none());
    match (scheme_ok, uri) {
        (true, Some(_)) => Ok(url.trim_end_matches('/').to_owned()),
        _ => Err(ConfigError::new(
            key,
            format!("{url:?} is not a usable URL"),
            fix,
        )),
    }
}

fn nats_url(text: &Text) -> Result<Option<String>, ConfigError> {
    let url = text.0.trim();
    if url.is_empty() || url.eq_ignore_ascii_case("memory") {
        return Ok(None);
    }
    // A cluster is given as a comma-separated list of its servers.
    for server in url.split(',').map(str::trim) {
        async_nats::ServerAddr::from_str(server).map_err(|_| {
            ConfigError::new(
                "NATS_URL",
                format!(
                    "{:?} is not a NATS address",
                    crate::adapters::nats::redact_url(server)
                ),
                "set NATS_URL to nats://[user:pass@]host:4222 (a cluster: several, comma-separated), \
                 or to memory for a single replica",
            )
        })?;
    }
    Ok(Some(url.to_owned()))
}

fn subject(key: &str, text: &Text) -> Result<String, ConfigError> {
    let value = required(key, text)?;
    let ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !value.starts_with('.')
        && !value.contains("..");
    if ok {
        Ok(value)
    } else {
        Err(ConfigError::new(
            key,
            format!("{value:?} is not a NATS subject prefix"),
            "use dot-separated tokens of letters, digits, - and _ (no spaces, * or >)",
        ))
    }
}

fn bucket(key: &str, text: &Text) -> Result<String, ConfigError> {
    let value = required(key, text)?;
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    {
        Ok(value)
    } else {
        Err(ConfigError::new(
            key,
            format!("{value:?} is not a bucket name"),
            "use letters, digits, - and _ only",
        ))
    }
}

fn playbook(key: &str, path: &str) -> Result<PlaybookPath, ConfigError> {
    PlaybookPath::parse(path.trim()).map_err(|e| {
        ConfigError::new(
            key,
            e.to_string(),
            "use a catalog path such as api_integration/auth0/auth0_login",
        )
    })
}
