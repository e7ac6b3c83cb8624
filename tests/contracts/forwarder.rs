//! Contract of `Forwarder` against an echo upstream: method, path, headers and a chunked body
//! arrive; the answer streams back.

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http::{HeaderMap, HeaderValue, Method};
use noetl_gateway::ports::{ForwardRequest, Forwarder};

pub async fn run_echo<F: Forwarder>(forwarder: F) {
    let mut headers = HeaderMap::new();
    headers.insert("x-test", HeaderValue::from_static("yes"));
    let chunks = vec![
        Ok(Bytes::from_static(b"hello ")),
        Ok(Bytes::from_static(b"world")),
    ];
    let response = forwarder
        .forward(ForwardRequest {
            method: Method::POST,
            path_and_query: "/api/catalog/list?x=1".into(),
            headers,
            has_body: true,
            body: stream::iter(chunks).boxed(),
        })
        .await
        .expect("forwarded");
    assert!(response.status.is_success());
    assert_eq!(
        response
            .headers
            .get("x-echo-method")
            .and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    assert_eq!(
        response
            .headers
            .get("x-echo-path")
            .and_then(|v| v.to_str().ok()),
        Some("/api/catalog/list?x=1")
    );
    let mut body = Vec::new();
    let mut stream = response.body;
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.expect("chunk"));
    }
    assert_eq!(body, b"hello world");
}
