//! Adapters (memory): the forwarder twin, an echo upstream that records what it was sent.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, stream};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::ports::{ForwardError, ForwardRequest, ForwardResponse, Forwarder};

/// A request as the echo upstream saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Answers 200 with the request body, and the method and path in `x-echo-*` headers.
#[derive(Debug, Clone, Default)]
pub struct InMemoryForwarder {
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl InMemoryForwarder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn seen(&self) -> Vec<SeenRequest> {
        crate::sync::lock(&self.seen).clone()
    }
}

impl Forwarder for InMemoryForwarder {
    async fn forward(&self, request: ForwardRequest) -> Result<ForwardResponse, ForwardError> {
        let ForwardRequest {
            method,
            path_and_query,
            headers,
            mut body,
            ..
        } = request;
        let mut collected = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ForwardError::BadRequest(e.to_string()))?;
            collected.extend_from_slice(&chunk);
        }
        let collected = collected.freeze();
        let mut reply_headers = HeaderMap::new();
        let echo =
            |v: &str| HeaderValue::from_str(v).map_err(|e| ForwardError::BadRequest(e.to_string()));
        reply_headers.insert("x-echo-method", echo(method.as_str())?);
        reply_headers.insert("x-echo-path", echo(&path_and_query)?);
        crate::sync::lock(&self.seen).push(SeenRequest {
            method,
            path_and_query,
            headers,
            body: collected.clone(),
        });
        Ok(ForwardResponse {
            status: StatusCode::OK,
            headers: reply_headers,
            body: stream::iter([Ok(collected)]).boxed(),
        })
    }
}
