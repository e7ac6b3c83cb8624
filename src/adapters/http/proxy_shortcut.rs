//! Adapters (http): the proxy's way past poem's routing. A `/noetl/...` request that carries
//! no `Origin` (not a browser's, so CORS has nothing to add) and whose head is within the
//! size limit (the envelope answers one that is not) goes from hyper straight to the
//! proxy, with the correlation id, span, metrics, log line and panic answer that the poem
//! chain gives every other request. It spares the busiest route poem's request and response
//! conversions and its middleware chain.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt, TryStreamExt};
use http_body_util::BodyStream;
use hyper::body::Incoming;
use poem::Response;
use poem::http::{StatusCode, header};
use tracing::Instrument;

use super::envelope::{RequestScope, default_message, error_response};
use super::head_limit::too_large;
use super::proxy::{ProxyCall, forward, upstream_target};
use super::request_id::CorrelationId;
use super::server::{RequestBody, Shortcut};
use crate::app::Gateway;

const PREFIX: &str = "/noetl/";

/// The shortcut of the public listener.
pub fn proxy_shortcut(gateway: Arc<Gateway>) -> Arc<dyn Shortcut> {
    Arc::new(ProxyShortcut { gateway })
}

struct ProxyShortcut {
    gateway: Arc<Gateway>,
}

impl Shortcut for ProxyShortcut {
    fn claims(&self, req: &hyper::Request<Incoming>) -> bool {
        req.uri().path().starts_with(PREFIX)
            && !req.headers().contains_key(header::ORIGIN)
            && !too_large(req.method(), req.uri(), req.headers())
    }

    fn answer(
        &self,
        req: hyper::Request<RequestBody>,
        remote: SocketAddr,
    ) -> BoxFuture<'static, Response> {
        let gateway = self.gateway.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let scope = RequestScope::begin(&parts.method, parts.uri.path(), &parts.headers);
            let call = ProxyCall {
                method: &parts.method,
                uri: &parts.uri,
                headers: &parts.headers,
                remote: Some(remote.ip()),
                id: &scope.id,
            };
            let handled = AssertUnwindSafe(proxy(&gateway, &call, body))
                .catch_unwind()
                .instrument(scope.span.clone())
                .await;
            let response = handled.unwrap_or_else(|_| panicked(&scope.id));
            scope.finish(response, &gateway.metrics)
        })
    }
}

async fn proxy(gateway: &Arc<Gateway>, call: &ProxyCall<'_>, body: RequestBody) -> Response {
    let target = match upstream_target(call.uri) {
        Ok(target) => target,
        Err(why) => return error_response(StatusCode::BAD_REQUEST, why, call.id),
    };
    let chunks = BodyStream::new(body)
        .try_filter_map(|frame| std::future::ready(Ok(frame.into_data().ok())));
    forward(gateway, call, target, chunks.boxed()).await
}

/// The answer to a request whose handling panicked: the same as poem's chain gives.
fn panicked(id: &CorrelationId) -> Response {
    tracing::error!(request_id = %id.as_str(), "request failed: the proxy panicked");
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    error_response(status, &default_message(status), id)
}
