//! Test harness: runs the gateway in-process (`Application` on port 0) or as the real
//! binary, wired to a NoETL stand-in and optionally a real NATS server.

use std::io::{BufRead, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use noetl_gateway::app::config::{RawConfig, Text};
use noetl_gateway::app::{Application, Config, RunningApplication};

use super::noetl::NoetlStandIn;

/// Defaults for tests: loopback, port 0 for both listeners, memory bus, short timeouts.
pub fn base_raw_config(noetl_base_url: &str, nats_url: Option<&str>) -> RawConfig {
    RawConfig {
        router_port: 0,
        gateway_internal_port: 0,
        gateway_bind_host: Text::from("127.0.0.1"),
        gateway_internal_bind_host: Text::from("127.0.0.1"),
        noetl_base_url: Text::from(noetl_base_url),
        nats_url: Text::from(nats_url.unwrap_or("memory")),
        noetl_request_timeout_ms: 2_000,
        noetl_connect_timeout_ms: 500,
        auth_playbook_timeout_secs: 3,
        gateway_drain_secs: 2,
        ..RawConfig::default()
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("http client")
}

/// A gateway running in this test's runtime.
pub struct TestGateway {
    pub app: RunningApplication,
    pub http: reqwest::Client,
}

impl TestGateway {
    pub async fn start(raw: RawConfig) -> Self {
        super::logs::install_if_asked();
        let config = Config::from_raw(raw).expect("test config is valid");
        let app = Application::build(config)
            .await
            .expect("gateway builds")
            .spawn();
        Self {
            app,
            http: http_client(),
        }
    }

    /// A gateway on the memory bus in front of `standin`: the test defaults of
    /// `base_raw_config`, changed by `adjust`.
    pub async fn beside(standin: &NoetlStandIn, adjust: impl FnOnce(&mut RawConfig)) -> Self {
        let mut raw = base_raw_config(&standin.base_url(), None);
        adjust(&mut raw);
        Self::start(raw).await
    }

    pub fn public(&self, path: &str) -> String {
        format!("http://{}{path}", self.app.public_addr)
    }

    pub fn internal(&self, path: &str) -> String {
        format!("http://{}{path}", self.app.internal_addr)
    }

    /// POSTs JSON to a public path; the status and the JSON answer (`null` when not JSON).
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send_json(self.public(path), body).await
    }

    /// As `post_json`, on the internal listener.
    pub async fn internal_post_json(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.send_json(self.internal(path), body).await
    }

    async fn send_json(&self, url: String, body: serde_json::Value) -> (u16, serde_json::Value) {
        let resp = self.http.post(url).json(&body).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// The internal listener's `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        let answer = self
            .http
            .get(self.internal("/metrics"))
            .send()
            .await
            .unwrap();
        answer.text().await.unwrap()
    }

    /// What `/readyz` says of NATS: `connected`, `degraded` or `memory`.
    pub async fn nats_state(&self) -> String {
        let body: serde_json::Value = self
            .http
            .get(self.public("/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["nats"].as_str().unwrap_or_default().to_owned()
    }

    /// Waits up to 15 s for the gateway to report NATS connected; fails the test otherwise.
    pub async fn wait_nats_connected(&self) {
        let up = super::eventually(Duration::from_secs(15), || async {
            self.nats_state().await == "connected"
        })
        .await;
        assert!(up, "the gateway did not connect to NATS within 15 s");
    }
}

/// The real binary, started with the given environment (nothing inherited but PATH). Its
/// stdout and stderr are read as it runs (so it never blocks on a full pipe).
pub struct GatewayProcess {
    pub child: Child,
    pub public: SocketAddr,
    pub internal: SocketAddr,
    pub started: Instant,
    output: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// Whether this process logs JSON in a run that collects JSON logs.
    json_logs: bool,
}

fn collect(
    pipe: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let reader = std::io::BufReader::new(pipe);
        for line in reader.lines().map_while(Result::ok) {
            let mut out = into
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            out.push_str(&line);
            out.push('\n');
        }
    })
}

impl GatewayProcess {
    pub fn spawn(env: &[(&str, String)]) -> Self {
        Self::spawn_via(&[], env)
    }

    /// Like [`spawn`](Self::spawn), with the binary run by a launcher that `exec`s it (so the
    /// process id stays the gateway's), e.g. `["prlimit", "--nofile=256:"]`.
    pub fn spawn_via(launcher: &[&str], env: &[(&str, String)]) -> Self {
        let [port, internal] = super::free_ports::<2>();
        let binary = env!("CARGO_BIN_EXE_noetl-gateway");
        let mut cmd = match launcher.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(binary);
                cmd
            }
            None => Command::new(binary),
        };
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ROUTER_PORT", port.to_string())
            .env("GATEWAY_INTERNAL_PORT", internal.to_string())
            .env("GATEWAY_BIND_HOST", "127.0.0.1")
            .env("GATEWAY_INTERNAL_BIND_HOST", "127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A run that collects JSON logs (scripts/json-logs.sh) gets them from every
        // process that does not choose its own format.
        let collect_json = super::logs::json_log_dir().is_some();
        let own_format = env
            .iter()
            .find(|(k, _)| *k == "LOG_FORMAT")
            .map(|(_, v)| v.as_str());
        if collect_json && own_format.is_none() {
            cmd.env("LOG_FORMAT", "json");
            if let Ok(filter) = std::env::var("RUST_LOG") {
                cmd.env("RUST_LOG", filter);
            }
        }
        let json_logs = collect_json && own_format.is_none_or(|f| f == "json");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("the gateway binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(collect(out, output.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(collect(err, output.clone()));
        }
        Self {
            child,
            public: SocketAddr::from(([127, 0, 0, 1], port)),
            internal: SocketAddr::from(([127, 0, 0, 1], internal)),
            started,
            output,
            readers,
            json_logs,
        }
    }

    /// Everything the process printed; after exit, all of it.
    pub fn output(&mut self) -> String {
        if self.child.try_wait().ok().flatten().is_some() {
            for reader in self.readers.drain(..) {
                let _ = reader.join();
            }
        }
        self.output
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        super::signal(self.child.id(), "-TERM");
    }

    /// Waits for exit up to `within`; `None` if still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.json_logs {
            let output = self.output();
            super::logs::keep_process_output(&output);
        }
    }
}
