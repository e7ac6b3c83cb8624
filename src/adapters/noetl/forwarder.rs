//! Adapters (noetl): the streaming `Forwarder` of the proxy. Bodies pass through chunk by
//! chunk in both directions over kept-alive connections (`upstream`); the first-byte bound
//! covers connecting, sending the head and waiting for the response head, never the
//! streaming that follows. Connections open at once are bounded: past the bound a request
//! is refused at once (`ForwardError::Busy`) rather than opening one more.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use http::{HeaderValue, Request, Uri, header};
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use tokio::sync::OwnedSemaphorePermit;

use super::upstream::{Pool, ProxyBody, SendError, Streaming, Upstream};
use crate::ports::{ForwardError, ForwardRequest, ForwardResponse, Forwarder};

/// Idle connections kept for reuse, and for how long.
const MAX_IDLE: usize = 256;
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where and how patiently to forward.
#[derive(Debug, Clone)]
pub struct ForwarderSettings {
    /// `http://host:port`, no trailing slash.
    pub base_url: String,
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    /// Connections to NoETL open at once, in use or idle.
    pub max_connections: usize,
}

#[derive(Clone)]
pub struct HyperForwarder {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ForwarderSettings,
    /// `host:port` of the base URL, and its `Host` header; `None` when it has no authority.
    target: Option<(String, HeaderValue)>,
    /// The base URL's path, put before every forwarded path.
    prefix: String,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for HyperForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperForwarder")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl HyperForwarder {
    pub fn new(settings: ForwarderSettings) -> Self {
        let base: Option<Uri> = settings.base_url.parse().ok();
        let target = base.as_ref().and_then(Uri::authority).and_then(|a| {
            let port = a.port_u16().unwrap_or(80);
            let host = HeaderValue::from_str(a.as_str()).ok()?;
            Some((format!("{}:{port}", a.host()), host))
        });
        let prefix = base
            .as_ref()
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                target,
                prefix,
                pool: Arc::new(Pool::new(
                    settings.max_connections,
                    MAX_IDLE.min(settings.max_connections),
                    IDLE_TIMEOUT,
                )),
                settings,
            }),
        }
    }

    /// Connections to NoETL open now, in use or idle.
    pub fn open_connections(&self) -> usize {
        self.inner.pool.open()
    }
}

impl Inner {
    /// A connection ready for a request: a pooled one, else a new one if the bound on open
    /// connections allows it.
    async fn checkout(&self, addr: &str) -> Result<Upstream, ForwardError> {
        loop {
            while let Some(mut upstream) = self.pool.take() {
                if upstream.ready().await {
                    return Ok(upstream);
                }
            }
            match self.pool.slot() {
                // Boxed: opening a connection is the rare case, and its state would otherwise
                // be carried (and moved) by every request's future.
                Some(slot) => return Box::pin(self.connect(addr, slot)).await,
                None if self.pool.none_idle() => return Err(ForwardError::Busy),
                // A connection came back to the pool since it was last looked at.
                None => {}
            }
        }
    }

    /// A new connection, ready for a request.
    async fn connect(
        &self,
        addr: &str,
        slot: OwnedSemaphorePermit,
    ) -> Result<Upstream, ForwardError> {
        let connecting = Upstream::connect(addr, slot);
        let mut upstream = tokio::time::timeout(self.settings.connect_timeout, connecting)
            .await
            .map_err(|_| ForwardError::Unreachable("connecting to NoETL timed out".into()))?
            .map_err(|e| ForwardError::Unreachable(Box::new(e)))?;
        if upstream.ready().await {
            Ok(upstream)
        } else {
            Err(ForwardError::Unreachable(
                "NoETL closed the connection at once".into(),
            ))
        }
    }

    /// Sends the request, once more on a new connection when a pooled one turned out to be
    /// closed before anything was written.
    async fn exchange(
        &self,
        addr: &str,
        request: Request<ProxyBody>,
    ) -> Result<ForwardResponse, ForwardError> {
        let unreachable = |e: SendError| match e {
            SendError::Unsent(_, e) | SendError::Failed(e) => {
                ForwardError::Unreachable(Box::new(e))
            }
        };
        let mut upstream = self.checkout(addr).await?;
        let response = match upstream.send(request).await {
            Ok(response) => response,
            Err(SendError::Unsent(unsent, _)) => {
                // The connection was closed: its place goes to the one that replaces it.
                upstream.give_up_slot();
                upstream = self.checkout(addr).await?;
                upstream.send(*unsent).await.map_err(unreachable)?
            }
            Err(failed) => return Err(unreachable(failed)),
        };
        let (parts, incoming) = response.into_parts();
        let body = Streaming::new(incoming, upstream, self.pool.clone());
        Ok(ForwardResponse {
            status: parts.status,
            headers: parts.headers,
            body: body.boxed(),
        })
    }
}

impl Forwarder for HyperForwarder {
    async fn forward(&self, request: ForwardRequest) -> Result<ForwardResponse, ForwardError> {
        let Some((addr, host)) = &self.inner.target else {
            return Err(ForwardError::BadRequest(
                "NOETL_BASE_URL names no host".to_owned(),
            ));
        };
        // The target's text becomes the URI without a copy (no prefix: the path as it came).
        let prefix = &self.inner.prefix;
        let target = if prefix.is_empty() {
            request.path_and_query
        } else {
            [prefix.as_str(), request.path_and_query.as_str()].concat()
        };
        let uri = Uri::try_from(target)
            .map_err(|e: http::uri::InvalidUri| ForwardError::BadRequest(e.to_string()))?;
        // A request without a body goes out with an empty one, not an empty chunked stream.
        let body = if request.has_body {
            BodyExt::boxed_unsync(StreamBody::new(request.body.map_ok(Frame::data)))
        } else {
            BodyExt::boxed_unsync(Empty::new().map_err(|never| match never {}))
        };
        let mut outgoing = Request::builder()
            .method(request.method)
            .uri(uri)
            .body(body)
            .map_err(|e| ForwardError::BadRequest(e.to_string()))?;
        *outgoing.headers_mut() = request.headers;
        outgoing.headers_mut().insert(header::HOST, host.clone());
        tokio::time::timeout(
            self.inner.settings.first_byte_timeout,
            self.inner.exchange(addr, outgoing),
        )
        .await
        .map_err(|_| ForwardError::Timeout)?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use http::{HeaderMap, Method};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that reads one request on each connection, writes what `answer` makes of its
    /// head, and closes the connection; its base URL.
    async fn answering(answer: fn(&str) -> String) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let _ = socket.write_all(answer(&head).as_bytes()).await;
            }
        });
        format!("http://{addr}")
    }

    /// Answers each connection's one request without saying that it closes the connection:
    /// each pooled connection is found closed by the next request.
    async fn one_answer_per_connection() -> String {
        answering(|_| "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_owned()).await
    }

    /// Answers every request with its request line as the body.
    async fn echoing_the_request_line() -> String {
        answering(|head| {
            let line = head.lines().next().unwrap_or_default();
            format!(
                "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{line}",
                line.len()
            )
        })
        .await
    }

    #[tokio::test]
    async fn the_base_urls_path_goes_in_front_of_the_forwarded_one() {
        let server = echoing_the_request_line().await;
        for (base, seen) in [
            (server.clone(), "GET /api/x?y=1 HTTP/1.1"),
            (format!("{server}/root"), "GET /root/api/x?y=1 HTTP/1.1"),
        ] {
            let forwarder = HyperForwarder::new(ForwarderSettings {
                base_url: base,
                connect_timeout: Duration::from_secs(1),
                first_byte_timeout: Duration::from_secs(2),
                max_connections: 4,
            });
            let mut request = get();
            request.path_and_query = "/api/x?y=1".to_owned();
            let response = forwarder.forward(request).await.expect("an answer");
            let body: Vec<_> = response.body.try_collect().await.unwrap();
            assert_eq!(String::from_utf8(body.concat()).unwrap(), seen);
        }
    }

    fn get() -> ForwardRequest {
        ForwardRequest {
            method: Method::GET,
            path_and_query: "/api/x".to_owned(),
            headers: HeaderMap::new(),
            has_body: false,
            body: futures_util::stream::empty().boxed(),
        }
    }

    #[tokio::test]
    async fn a_closed_connection_does_not_keep_its_place_under_the_bound() {
        let forwarder = HyperForwarder::new(ForwarderSettings {
            base_url: one_answer_per_connection().await,
            connect_timeout: Duration::from_secs(1),
            first_byte_timeout: Duration::from_secs(2),
            max_connections: 1,
        });
        for _ in 0..3 {
            let response = forwarder.forward(get()).await.expect("a free place");
            let body: Vec<_> = response.body.try_collect().await.unwrap();
            assert_eq!(body.concat(), b"ok");
            // Let the server's close arrive before the next request looks at the pool.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(forwarder.open_connections() <= 1);
    }
}
