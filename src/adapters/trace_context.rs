//! Adapters: W3C trace context at the edges. Reads `traceparent` from what arrives (a
//! client's request, a worker's callback) and writes the current span's context into what
//! leaves (NoETL calls, the proxy, the workload of started executions), so one trace spans
//! the request, the NoETL call and the worker's callback.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header and workload key that carries the context.
pub const TRACEPARENT: &str = "traceparent";

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Makes `span` a child of the context the request carries, when it carries a valid one.
pub fn continue_from(span: &tracing::Span, headers: &http::HeaderMap) {
    if !span.is_disabled() && headers.contains_key(TRACEPARENT) {
        let cx = TraceContextPropagator::new().extract(&Headers(headers));
        // Without a trace pipeline there is nothing to attach to; that is not an error.
        let _ = span.set_parent(cx);
    }
}

/// Records the hand-over of one event to its SSE client as a span linked to the trace of
/// the report the event came from (the worker's callback), when it carries one.
pub fn record_delivery(traceparent: Option<&str>, cursor: u64) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let span = tracing::info_span!("sse deliver", otel.kind = "producer", sse.event_id = cursor);
    let mut carrier = HashMap::new();
    carrier.insert(TRACEPARENT.to_owned(), traceparent.to_owned());
    let cx = TraceContextPropagator::new().extract(&carrier);
    span.add_link(cx.span().span_context().clone());
}

/// The `traceparent` of the current span, when traces are being recorded.
pub fn current_traceparent() -> Option<String> {
    let span = tracing::Span::current();
    // A span the subscriber does not record carries no context of its own.
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_trace_pipeline_nothing_is_invented() {
        assert_eq!(current_traceparent(), None);
        let mut headers = http::HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            http::HeaderValue::from_static(
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        );
        continue_from(&tracing::Span::none(), &headers);
    }
}
