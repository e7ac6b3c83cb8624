//! App: the composition root. `Application::build` turns a [`Config`] into bound listeners
//! and wired adapters; `run_until` serves both listeners until shutdown, then drains.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Config;
use super::auth::{AuthService, AuthSettings, LocalSessions};
use super::callbacks::CallbackService;
use super::capacity::{OwnConnections, client_connection_bound};
use super::executions::ExecutionService;
use super::gateway::Gateway;
use super::metrics::{Listener, Metrics};
use super::patience::Patience;
use super::presence::Presence;
use super::readiness::Readiness;
use super::watcher::Watcher;
use super::wiring::{
    BusAdapter, EventLogAdapter, ReplyBusAdapter, RequestStoreAdapter, RunnerAdapter,
    SessionCacheAdapter, open_shared_state,
};
use crate::adapters::http::{
    Admission, ConnectionLimits, internal_endpoint, proxy_shortcut, public_endpoint, serve,
};
use crate::adapters::memory::{
    InMemoryBus, InMemoryEventLog, InMemoryReplyBus, InMemoryRequestStore, InMemorySessionCache,
};
use crate::adapters::nats::{
    EventLogSettings, NatsConnection, NatsError, NatsEventLog, NatsReplyBus, NatsRequestStore,
    NatsSessionCache,
};
use crate::adapters::noetl::{ForwarderSettings, HyperForwarder, NoetlClient};

/// Events one client keeps in single-replica mode (and while NATS is away).
const MEMORY_EVENTS_PER_CLIENT: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Nats(#[from] NatsError),
}

/// A gateway whose listeners are bound but not yet serving.
pub struct Application {
    /// Tells streams and background work that the gateway is draining.
    drain: watch::Sender<bool>,
    gateway: Arc<Gateway>,
    public: TcpListener,
    internal: TcpListener,
    public_addr: SocketAddr,
    internal_addr: SocketAddr,
    drain_deadline: Duration,
    send_timeout: Duration,
    idle_timeout: Duration,
    min_body_rate: u64,
    /// The bound on the public listener's client connections.
    admission: Admission,
    /// The bound on the internal listener's connections.
    internal_admission: Admission,
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let fail = |source| StartError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(fail)?;
    let bound = listener.local_addr().map_err(fail)?;
    Ok((listener, bound))
}

impl Application {
    /// Binds both listeners (port 0 picks free ports) and wires the adapters: NoETL over
    /// REST, and NATS unless `NATS_URL` is `memory` or empty. Never waits for NATS.
    ///
    /// # Errors
    /// `Bind` when a listener cannot be bound, `Nats` when `NATS_URL` cannot be used.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let metrics = Arc::new(Metrics::new());
        let runner = RunnerAdapter::Noetl(NoetlClient::new(config.noetl.clone(), metrics.clone()));
        Self::build_with_runner(config, runner, metrics).await
    }

    /// As [`Application::build`], with the workflow engine given (tests use the twin).
    ///
    /// # Errors
    /// As for [`Application::build`].
    pub async fn build_with_runner(
        config: Config,
        runner: RunnerAdapter,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StartError> {
        let (public, public_addr) = bind(config.public_addr).await?;
        let (internal, internal_addr) = bind(config.internal_addr).await?;
        let bus = match &config.nats.url {
            Some(url) => {
                let connection = NatsConnection::start(url, "noetl-gateway").await?;
                if !connection.is_connected() {
                    tracing::warn!(
                        "NATS is not reachable yet: serving DEGRADED from memory (single replica \
                         semantics) until it connects"
                    );
                }
                BusAdapter::Nats(connection)
            }
            None => {
                tracing::info!(
                    "NATS_URL is memory: single-replica mode, all state in this process"
                );
                BusAdapter::Memory(InMemoryBus)
            }
        };
        let internal_url = config.internal_url.clone().unwrap_or_else(|| {
            let host = if internal_addr.ip().is_unspecified() {
                "127.0.0.1".to_owned()
            } else {
                internal_addr.ip().to_string()
            };
            format!("http://{host}:{}", internal_addr.port())
        });
        let (cache, replies) = match &bus {
            BusAdapter::Nats(conn) => (
                SessionCacheAdapter::Nats(NatsSessionCache::new(
                    conn.clone(),
                    &config.nats.session_bucket,
                    config.nats.session_ttl,
                    config.auth.revocation_ttl,
                    config.nats.replicas,
                )),
                ReplyBusAdapter::Nats(NatsReplyBus::new(
                    conn.clone(),
                    &config.nats.callback_subject_prefix,
                )),
            ),
            BusAdapter::Memory(_) => (
                SessionCacheAdapter::Memory(InMemorySessionCache::new(
                    config.nats.session_ttl,
                    config.auth.revocation_ttl,
                )),
                ReplyBusAdapter::Memory(InMemoryReplyBus::new()),
            ),
        };
        let shared_cache = cache.clone();
        let auth = AuthService::new(
            runner.clone(),
            cache,
            replies,
            AuthSettings {
                mode: config.auth.mode,
                login_playbook: config.auth.login_playbook.clone(),
                validate_playbook: config.auth.validate_playbook.clone(),
                check_access_playbook: config.auth.check_access_playbook.clone(),
                playbook_timeout: config.auth.playbook_timeout,
                max_pending: config.auth.max_pending,
                gateway_url: internal_url.clone(),
            },
            LocalSessions::new(
                config.auth.local_capacity,
                config.nats.session_ttl,
                config.auth.negative_ttl,
                config.auth.revocation_ttl,
            ),
            metrics.clone(),
        );
        auth.follow_invalidations();
        let local_requests = InMemoryRequestStore::new(config.nats.request_ttl);
        let local_events = InMemoryEventLog::new(MEMORY_EVENTS_PER_CLIENT, config.events.retention);
        let (requests, events) = match &bus {
            BusAdapter::Nats(conn) => (
                RequestStoreAdapter::Nats {
                    nats: NatsRequestStore::new(
                        conn.clone(),
                        &config.nats.request_bucket,
                        config.nats.request_ttl,
                        config.nats.replicas,
                    ),
                    local: local_requests,
                    patience: Patience::default(),
                },
                EventLogAdapter::Nats {
                    nats: NatsEventLog::new(
                        conn.clone(),
                        EventLogSettings {
                            stream: config.events.stream.clone(),
                            subject_prefix: config.nats.updates_subject_prefix.clone(),
                            max_age: config.events.retention,
                            max_bytes: i64::try_from(config.events.max_bytes).unwrap_or(i64::MAX),
                            replicas: config.nats.replicas,
                        },
                    ),
                    local: local_events,
                    patience: Patience::default(),
                },
            ),
            BusAdapter::Memory(_) => (
                RequestStoreAdapter::Memory(local_requests),
                EventLogAdapter::Memory(local_events),
            ),
        };
        let readiness = Readiness::new(runner.clone(), bus.clone());
        open_shared_state(&bus, &shared_cache, &requests, &events, &readiness);
        let presence = Presence::default();
        let (drain_tx, draining) = watch::channel(false);
        let callbacks = CallbackService::new(requests.clone(), events.clone(), presence);
        Watcher {
            runner: runner.clone(),
            requests: requests.clone(),
            callbacks: callbacks.clone(),
            settings: config.watch,
            holder: uuid::Uuid::new_v4().to_string(),
        }
        .spawn(draining.clone());
        let fits = client_connection_bound(
            crate::adapters::process::open_files_limit(),
            OwnConnections {
                proxy: config.proxy.max_connections,
                auth_pending: config.auth.max_pending,
                internal: config.internal_max_connections,
            },
        );
        let max_connections = config.max_connections.unwrap_or(fits);
        if max_connections > fits {
            tracing::warn!(
                max_connections,
                fits,
                "GATEWAY_MAX_CONNECTIONS is above what the open-file limit leaves beside the \
                 gateway's own connections: many clients can use up the descriptors the proxy \
                 and NATS need"
            );
        }
        tracing::debug!(max_connections, "public listener's connection bound");
        let admission = Admission::new(max_connections, metrics.clone(), Listener::Public);
        let internal_admission = Admission::new(
            config.internal_max_connections,
            metrics.clone(),
            Listener::Internal,
        );
        let gateway = Arc::new(Gateway {
            executions: ExecutionService::new(
                runner.clone(),
                requests.clone(),
                events.clone(),
                &internal_url,
            ),
            callbacks,
            draining,
            heartbeat: config.heartbeat_interval,
            streams: crate::app::stream_quota::StreamQuota::new(
                config.events.max_streams_per_session,
                metrics.clone(),
            ),
            forwarder: HyperForwarder::new(ForwarderSettings {
                base_url: config.noetl.base_url.clone(),
                connect_timeout: config.proxy.connect_timeout,
                first_byte_timeout: config.proxy.first_byte_timeout,
                max_connections: config.proxy.max_connections,
            }),
            proxy_max_body_bytes: config.proxy.max_body_bytes,
            proxy_policy: config.proxy.policy.clone(),
            cors: config.cors.clone(),
            graphql: config.graphql,
            enforce_playbook_access: config.auth.enforce_playbook_access,
            auth,
            readiness,
            max_body_bytes: config.max_body_bytes,
            internal_url,
            callback_secret: config.callback_secret.clone(),
            metrics,
        });
        Ok(Self {
            drain: drain_tx,
            gateway,
            public,
            internal,
            public_addr,
            internal_addr,
            drain_deadline: config.drain_deadline,
            send_timeout: config.send_timeout,
            idle_timeout: config.idle_timeout,
            min_body_rate: config.min_body_rate,
            admission,
            internal_admission,
        })
    }

    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    pub fn internal_addr(&self) -> SocketAddr {
        self.internal_addr
    }

    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Serves until `shutdown` completes, then stops accepting, marks readiness draining,
    /// and gives in-flight requests up to the drain deadline to finish.
    ///
    /// # Errors
    /// An I/O error from a listener.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        // After the signal the replica says "draining" on /readyz and keeps serving for a
        // fifth of the drain deadline (at most 2 s), so load balancers move traffic away
        // before the listeners close; in-flight requests then get the rest of the deadline.
        let linger = (self.drain_deadline / 5).min(Duration::from_secs(2));
        let limits = ConnectionLimits {
            drain: self.drain_deadline.saturating_sub(linger),
            send_timeout: self.send_timeout,
            idle: self.idle_timeout,
            min_body_rate: self.min_body_rate,
        };
        let drain_tx = self.drain;
        let public = serve(
            self.public,
            "public",
            public_endpoint(self.gateway.clone()),
            Some(proxy_shortcut(self.gateway.clone())),
            Some(self.admission),
            stopped(stop_rx.clone()),
            limits,
        );
        let internal = serve(
            self.internal,
            "internal",
            internal_endpoint(self.gateway.clone()),
            None,
            Some(self.internal_admission),
            stopped(stop_rx),
            limits,
        );
        let gateway = self.gateway.clone();
        let trigger = async move {
            shutdown.await;
            tracing::info!("shutdown requested: draining");
            gateway.readiness.start_draining();
            let _ = drain_tx.send(true);
            tokio::time::sleep(linger).await;
            let _ = stop_tx.send(true);
        };
        let (_, public, internal) = tokio::join!(trigger, public, internal);
        public.and(internal)
    }

    /// Runs in a background task; the handle's `shutdown` drains it.
    pub fn spawn(self) -> RunningApplication {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let public_addr = self.public_addr;
        let internal_addr = self.internal_addr;
        let gateway = self.gateway.clone();
        let task = tokio::spawn(self.run_until(async move {
            let _ = rx.await;
        }));
        RunningApplication {
            public_addr,
            internal_addr,
            gateway,
            stop: Some(tx),
            task,
        }
    }
}

/// A gateway serving in a background task.
pub struct RunningApplication {
    pub public_addr: SocketAddr,
    pub internal_addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningApplication {
    /// Starts the drain and waits for both listeners to finish.
    ///
    /// # Errors
    /// An I/O error from a listener, or the task's failure as an I/O error.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.map_err(io::Error::other)?
    }
}

impl Drop for RunningApplication {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
