//! Tests of configuration loading, run inside figment's Jail (never `set_var`).
#![allow(clippy::result_large_err)]

use std::time::Duration;

use figment::Jail;

use super::Config;

fn load(jail: &mut Jail) -> Result<Config, super::ConfigError> {
    jail.clear_env();
    Config::load(None)
}

#[test]
fn defaults_follow_the_contract() {
    Jail::expect_with(|jail| {
        let c = load(jail).expect("defaults are valid");
        assert_eq!(c.public_addr.port(), 8090);
        assert_eq!(c.internal_addr.port(), 8091);
        assert_eq!(c.noetl.base_url, "http://localhost:8082");
        assert_eq!(c.nats.url.as_deref(), Some("nats://127.0.0.1:4222"));
        assert_eq!(c.nats.callback_subject_prefix, "noetl.callbacks");
        assert_eq!(c.nats.session_bucket, "sessions");
        assert_eq!(c.nats.session_ttl, Duration::from_secs(300));
        assert_eq!(c.nats.updates_subject_prefix, "playbooks.executions.");
        assert_eq!(c.nats.request_bucket, "requests");
        assert_eq!(c.nats.request_ttl, Duration::from_secs(1800));
        assert_eq!(
            c.auth.login_playbook.as_str(),
            "api_integration/auth0/auth0_login"
        );
        assert_eq!(c.auth.playbook_timeout, Duration::from_secs(15));
        assert_eq!(c.auth.max_pending, 512);
        assert_eq!(c.proxy.max_connections, 1024);
        assert_eq!(c.events.max_streams_per_session, 256);
        assert_eq!(c.max_connections, None);
        assert_eq!(c.internal_max_connections, 1024);
        assert_eq!(c.min_body_rate, 240);
        assert_eq!(c.noetl.session_credential, "pg_auth");
        assert_eq!(c.heartbeat_interval, Duration::from_secs(30));
        assert!(c.cors.allow_credentials);
        assert!(c.internal_url.is_none());
        assert!(c.callback_secret.is_none());
        Ok(())
    });
}

#[test]
fn each_seed_variable_changes_its_setting() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ROUTER_PORT", "9100");
        jail.set_env("NOETL_BASE_URL", "http://noetl.internal:8082/");
        jail.set_env("NATS_URL", "nats://user:pw@nats-0:4222");
        jail.set_env("NATS_CALLBACK_SUBJECT_PREFIX", "gw.callbacks");
        jail.set_env("NATS_SESSION_BUCKET", "2024");
        jail.set_env("NATS_SESSION_CACHE_TTL_SECS", "60");
        jail.set_env("NATS_UPDATES_SUBJECT_PREFIX", "gw.updates.");
        jail.set_env("GATEWAY_INTERNAL_PORT", "9101");
        jail.set_env("GATEWAY_INTERNAL_URL", "http://gw-internal:9101/");
        let c = Config::load(None).expect("valid");
        assert_eq!(c.public_addr.port(), 9100);
        assert_eq!(c.noetl.base_url, "http://noetl.internal:8082");
        assert_eq!(c.nats.url.as_deref(), Some("nats://user:pw@nats-0:4222"));
        assert_eq!(c.nats.callback_subject_prefix, "gw.callbacks");
        assert_eq!(c.nats.session_bucket, "2024");
        assert_eq!(c.nats.session_ttl, Duration::from_secs(60));
        assert_eq!(c.nats.updates_subject_prefix, "gw.updates.");
        assert_eq!(c.internal_addr.port(), 9101);
        assert_eq!(c.internal_url.as_deref(), Some("http://gw-internal:9101"));
        Ok(())
    });
}

#[test]
fn the_older_public_url_name_sets_the_internal_url() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("GATEWAY_PUBLIC_URL", "http://old-name:8091");
        assert_eq!(
            Config::load(None).expect("valid").internal_url.as_deref(),
            Some("http://old-name:8091")
        );
        jail.set_env("GATEWAY_INTERNAL_URL", "http://new-name:8091");
        assert_eq!(
            Config::load(None).expect("valid").internal_url.as_deref(),
            Some("http://new-name:8091")
        );
        Ok(())
    });
}

#[test]
fn memory_or_an_empty_nats_url_selects_single_replica_mode() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("NATS_URL", "memory");
        assert!(Config::load(None).expect("valid").nats.url.is_none());
        jail.set_env("NATS_URL", "");
        assert!(Config::load(None).expect("valid").nats.url.is_none());
        Ok(())
    });
}

#[test]
fn a_non_numeric_router_port_names_router_port() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("ROUTER_PORT", "abc");
        let err = Config::load(None).expect_err("must fail");
        assert_eq!(err.key, "ROUTER_PORT");
        assert!(err.to_string().contains("ROUTER_PORT"), "{err}");
        Ok(())
    });
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("NOETL_BASE_URL", "ftp://x"),
        ("NATS_SESSION_BUCKET", "a b"),
        ("NATS_CALLBACK_SUBJECT_PREFIX", "a.*"),
        ("NATS_SESSION_CACHE_TTL_SECS", "0"),
        ("AUTH_PLAYBOOK_LOGIN", "../etc"),
        ("LOG_FORMAT", "xml"),
        ("GATEWAY_BIND_HOST", "example.com"),
        ("GATEWAY_MAX_BODY_BYTES", "10"),
        ("GATEWAY_AUTH_MAX_PENDING", "0"),
        ("GATEWAY_AUTH_MAX_PENDING", "1000001"),
        ("GATEWAY_PROXY_MAX_CONNECTIONS", "0"),
        ("GATEWAY_PROXY_MAX_CONNECTIONS", "1000001"),
        ("GATEWAY_MAX_STREAMS_PER_SESSION", "0"),
        ("GATEWAY_MAX_CONNECTIONS", "1000001"),
        ("GATEWAY_INTERNAL_MAX_CONNECTIONS", "0"),
        ("GATEWAY_INTERNAL_MAX_CONNECTIONS", "1000001"),
        ("GATEWAY_MIN_BODY_BYTES_PER_SEC", "104857601"),
        ("GATEWAY_SESSION_LOCAL_CAPACITY", "0"),
    ];
    for (key, value) in cases {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env(key, value);
            let err = Config::load(None).expect_err(key);
            assert_eq!(err.key, key, "{err}");
            Ok(())
        });
    }
}

#[test]
fn the_file_layers_under_the_environment() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "gw.toml",
            "router_port = 9200\nnats_session_bucket = \"from_file\"\n",
        )?;
        let path = std::path::Path::new("gw.toml");
        let c = Config::load(Some(path)).expect("valid");
        assert_eq!(c.public_addr.port(), 9200);
        assert_eq!(c.nats.session_bucket, "from_file");
        jail.set_env("ROUTER_PORT", "9300");
        assert_eq!(
            Config::load(Some(path)).expect("valid").public_addr.port(),
            9300
        );
        jail.set_env("GATEWAY_CONFIG", "gw.toml");
        assert_eq!(
            Config::load(None).expect("valid").nats.session_bucket,
            "from_file"
        );
        Ok(())
    });
}

#[test]
fn unknown_file_keys_and_missing_files_are_refused() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("bad.toml", "routr_port = 1\n")?;
        let err = Config::load(Some(std::path::Path::new("bad.toml"))).expect_err("unknown key");
        assert!(err.to_string().contains("routr_port"), "{err}");
        let err = Config::load(Some(std::path::Path::new("missing.toml"))).expect_err("missing");
        assert_eq!(err.key, "GATEWAY_CONFIG");
        Ok(())
    });
}

#[test]
fn describe_redacts_the_callback_secret_and_nats_password() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("GATEWAY_CALLBACK_SECRET", "hunter2");
        jail.set_env("NATS_URL", "nats://u:natspw@h:4222");
        let c = Config::load(None).expect("valid");
        let text = format!("{:?}", c.describe());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("natspw"), "{text}");
        assert!(!format!("{c:?}").contains("hunter2"));
        Ok(())
    });
}
