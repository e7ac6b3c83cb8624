//! Adapters (nats): the one NATS connection of a replica. Connecting never blocks start-up:
//! the client retries in the background, and until it is connected the gateway is degraded.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::connection::State;
use tokio::sync::watch;

use crate::ports::{BusMonitor, BusState};

/// How long an operation that found NATS away waits for it to come back (a reconnect to
/// another node of the cluster) before this replica treats NATS as gone.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("NATS_URL is not a valid NATS address: {0}")]
    BadUrl(String),
    #[error("NATS connection failed")]
    Connect(#[source] async_nats::ConnectError),
}

/// A shared handle on the replica's NATS client.
#[derive(Debug, Clone)]
pub struct NatsConnection {
    client: async_nats::Client,
    /// When the connection was last lost (or first tried), while it is down.
    down_since: Arc<Mutex<Option<Instant>>>,
    /// How many times the connection has been (re)established.
    connects: Arc<watch::Sender<u64>>,
}

impl NatsConnection {
    /// Starts connecting to `url` (which may carry `user:pass@`; a cluster's servers
    /// comma-separated) and returns at once; the client keeps retrying until a server
    /// appears and reconnects, to any server of the cluster, after every loss.
    ///
    /// # Errors
    /// `BadUrl` when the address cannot be parsed; nothing is retried then.
    pub async fn start(url: &str, name: &str) -> Result<Self, NatsError> {
        let addrs = url
            .split(',')
            .map(|server| {
                server
                    .trim()
                    .parse::<async_nats::ServerAddr>()
                    .map_err(|_| NatsError::BadUrl(redact_url(server.trim())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let down_since = Arc::new(Mutex::new(Some(Instant::now())));
        let events = down_since.clone();
        let connects = Arc::new(watch::Sender::new(0u64));
        let counted = connects.clone();
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .request_timeout(Some(Duration::from_secs(5)))
            .reconnect_delay_callback(|attempt| {
                let millis = 100u64.saturating_mul(1u64 << attempt.min(5));
                Duration::from_millis(millis.min(2_000))
            })
            .event_callback(move |event| {
                let down_since = events.clone();
                let connects = counted.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            *crate::sync::lock(&down_since) = None;
                            connects.send_modify(|n| *n = n.wrapping_add(1));
                            tracing::info!("NATS connected");
                        }
                        async_nats::Event::Disconnected => {
                            crate::sync::lock(&down_since).get_or_insert_with(Instant::now);
                            tracing::warn!("NATS disconnected: serving degraded until it returns");
                        }
                        other => tracing::debug!(event = %other, "NATS event"),
                    }
                }
            })
            .connect(addrs)
            .await
            .map_err(NatsError::Connect)?;
        Ok(Self {
            client,
            down_since,
            connects,
        })
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Changes each time the connection is (re)established. Server-side state tied to the
    /// old connection (push consumers, subscriptions' interest) may be gone then, and the
    /// client's own recovery of it is not prompt, so whoever holds such state remakes it.
    pub fn connects(&self) -> watch::Receiver<u64> {
        self.connects.subscribe()
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// Whether the connection is up, or comes back within `within` of being lost (a
    /// reconnect to another node of the cluster takes a moment). Answers at once when it
    /// has been down for longer.
    pub async fn wait_connected(&self, within: Duration) -> bool {
        let lost_at = (*crate::sync::lock(&self.down_since)).unwrap_or_else(Instant::now);
        let give_up = tokio::time::Instant::from_std(lost_at + within);
        while !self.is_connected() {
            if tokio::time::Instant::now() >= give_up {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        true
    }
}

impl BusMonitor for NatsConnection {
    fn state(&self) -> BusState {
        if self.is_connected() {
            BusState::Connected
        } else {
            BusState::Degraded
        }
    }
}

/// The URL (or comma-separated URLs) with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    url.split(',').map(redact_one).collect::<Vec<_>>().join(",")
}

fn redact_one(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:<redacted>{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_in_nats_urls_are_redacted() {
        assert_eq!(
            redact_url("nats://bob:pw@10.0.0.1:4222"),
            "nats://bob:<redacted>@10.0.0.1:4222"
        );
        assert_eq!(redact_url("nats://h:4222"), "nats://h:4222");
        assert_eq!(
            redact_url("nats://a:x@n0:4222,nats://n1:4222,nats://b:y@n2:4222"),
            "nats://a:<redacted>@n0:4222,nats://n1:4222,nats://b:<redacted>@n2:4222"
        );
    }
}
