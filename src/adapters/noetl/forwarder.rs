//! Adapters (noetl): the streaming `Forwarder` over a pooled hyper-util client. Bodies pass
//! through chunk by chunk in both directions; the first-byte bound covers connecting,
//! sending the head and waiting for the response head, never the streaming that follows.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http::{Request, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, BodyStream, Empty, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::ports::{ForwardError, ForwardRequest, ForwardResponse, Forwarder};

type ProxyBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Where and how patiently to forward.
#[derive(Debug, Clone)]
pub struct ForwarderSettings {
    /// `http://host:port`, no trailing slash.
    pub base_url: String,
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct HyperForwarder {
    settings: Arc<ForwarderSettings>,
    client: Client<HttpConnector, ProxyBody>,
}

impl HyperForwarder {
    pub fn new(settings: ForwarderSettings) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        Self {
            settings: Arc::new(settings),
            client,
        }
    }
}

impl Forwarder for HyperForwarder {
    async fn forward(&self, request: ForwardRequest) -> Result<ForwardResponse, ForwardError> {
        let uri: Uri = format!("{}{}", self.settings.base_url, request.path_and_query)
            .parse()
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
        let response = tokio::time::timeout(
            self.settings.first_byte_timeout,
            self.client.request(outgoing),
        )
        .await
        .map_err(|_| ForwardError::Timeout)?
        .map_err(|e| ForwardError::Unreachable(Box::new(e)))?;
        let (parts, incoming) = response.into_parts();
        let body = BodyStream::new(incoming)
            .try_filter_map(|frame| std::future::ready(Ok(frame.into_data().ok())))
            .map_err(std::io::Error::other)
            .boxed();
        Ok(ForwardResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}
