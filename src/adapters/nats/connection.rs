//! Adapters (nats): the one NATS connection of a replica. Connecting never blocks start-up:
//! the client retries in the background, and until it is connected the gateway is degraded.

use std::time::Duration;

use async_nats::connection::State;

use crate::ports::{BusMonitor, BusState};

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
}

impl NatsConnection {
    /// Starts connecting to `url` (which may carry `user:pass@`) and returns at once; the
    /// client keeps retrying until the server appears and reconnects after every loss.
    ///
    /// # Errors
    /// `BadUrl` when the address cannot be parsed; nothing is retried then.
    pub async fn start(url: &str, name: &str) -> Result<Self, NatsError> {
        let addr: async_nats::ServerAddr = url
            .parse()
            .map_err(|_| NatsError::BadUrl(redact_url(url)))?;
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .request_timeout(Some(Duration::from_secs(5)))
            .reconnect_delay_callback(|attempt| {
                let millis = 100u64.saturating_mul(1u64 << attempt.min(5));
                Duration::from_millis(millis.min(2_000))
            })
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    async_nats::Event::Disconnected => {
                        tracing::warn!("NATS disconnected: serving degraded until it returns")
                    }
                    other => tracing::debug!(event = %other, "NATS event"),
                }
            })
            .connect(addr)
            .await
            .map_err(NatsError::Connect)?;
        Ok(Self { client })
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
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

/// The URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
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
    }
}
