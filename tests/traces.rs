//! Black-box test of trace export: the binary sends its spans over OTLP/gRPC to a collector
//! run inside the test, and one trace holds the GraphQL request, the NoETL call it made and
//! the worker's callback, each linked to its parent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Value, json};
use support::gateway::GatewayProcess;
use support::noetl::ECHO;
use support::sse::SseClient;
use support::{NatsServer, NoetlStandIn, http_client};

/// Every span received, with the service name of the resource that sent it.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.clone())
                .map(|v| match v {
                    AnyValue::StringValue(s) => s,
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push((service.clone(), span));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Collector {
    async fn start(self) -> std::net::SocketAddr {
        let incoming = tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
            .expect("collector port");
        let addr = incoming.local_addr().unwrap();
        let service = TraceServiceServer::new(self);
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .serve_with_incoming(service, incoming)
                .await
        });
        addr
    }

    fn named(&self, name: &str) -> Vec<Span> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, s)| s.name == name)
            .map(|(_, s)| s.clone())
            .collect()
    }

    fn by_id(&self, id: &[u8]) -> Option<Span> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .find(|(_, s)| s.span_id == id)
            .map(|(_, s)| s.clone())
    }

    fn services(&self) -> Vec<String> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Whether `ancestor` is `span` or one of its parents, following the links received.
    fn descends_from(&self, span: &Span, ancestor: &Span) -> bool {
        let mut current = span.clone();
        for _ in 0..32 {
            if current.span_id == ancestor.span_id {
                return true;
            }
            match self.by_id(&current.parent_span_id) {
                Some(parent) => current = parent,
                None => return false,
            }
        }
        false
    }
}

fn string_attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            AnyValue::IntValue(i) => Some(i.to_string()),
            _ => None,
        })
}

#[tokio::test]
async fn one_trace_holds_the_graphql_request_the_noetl_call_and_the_workers_callback() {
    let collector = Collector::default();
    let otlp = collector.clone().start().await;
    let standin = NoetlStandIn::start().await;
    let token = standin.add_session(61, "trace@example.com", json!(["admin"]));
    let nats = NatsServer::start();
    let mut gw = GatewayProcess::spawn(&[
        ("NATS_URL", nats.url()),
        ("NOETL_BASE_URL", standin.base_url()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}")),
        ("OTEL_SERVICE_NAME", "gateway-under-test".into()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
        ("RUST_LOG", "info".into()),
    ]);
    let base = format!("http://{}", gw.public);
    let http = http_client();
    let shared = support::eventually(Duration::from_secs(15), || async {
        match http.get(format!("{base}/readyz")).send().await {
            Ok(r) => r
                .json::<Value>()
                .await
                .is_ok_and(|b| b["nats"] == "connected"),
            Err(_) => false,
        }
    })
    .await;
    assert!(
        shared,
        "the gateway reached NATS and opened its shared state"
    );

    let answer =
        support::execute_playbook(&http, &base, &token, ECHO, "trace-client", Value::Null).await;
    let request_id = answer["data"]["executePlaybook"]["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("executePlaybook answered {answer}"))
        .to_owned();

    // The worker forwards the workload's `traceparent` on its callback.
    assert!(
        support::eventually(Duration::from_secs(10), || async {
            standin
                .callbacks()
                .iter()
                .any(|c| c.url.ends_with("/callback/async") && c.status == 202)
        })
        .await,
        "the worker's result callback was accepted"
    );
    let execute = standin.calls_to("/api/execute");
    assert_eq!(execute.len(), 1);
    let workload_parent = execute[0].body["payload"]["traceparent"]
        .as_str()
        .expect("the workload carries a traceparent")
        .to_owned();
    assert_eq!(execute[0].body["payload"]["request_id"], request_id);

    // The client comes for its results: their delivery links back to the callbacks.
    let mut sse = SseClient::connect(http.get(format!(
        "{base}/events?session_token={token}&client_id=trace-client"
    )))
    .await;
    let _init = sse.next().await;
    let mut got_result = false;
    for _ in 0..3 {
        got_result |= sse.next_event().await.event == "playbook/result";
    }
    assert!(got_result, "the queued result was delivered");

    let complete = support::eventually(Duration::from_secs(15), || async {
        !collector.named("POST /graphql").is_empty()
            && !collector.named("noetl execute").is_empty()
            && !collector
                .named("POST /api/internal/callback/async")
                .is_empty()
            && collector.named("sse deliver").len() >= 2
    })
    .await;
    gw.terminate();
    assert!(gw.wait_exit(Duration::from_secs(10)).is_some());
    assert!(
        complete,
        "spans received: {:?}",
        collector
            .spans
            .lock()
            .unwrap()
            .iter()
            .map(|(_, s)| s.name.clone())
            .collect::<Vec<_>>()
    );

    let graphql = collector.named("POST /graphql").remove(0);
    let noetl = collector.named("noetl execute").remove(0);
    let callback = collector
        .named("POST /api/internal/callback/async")
        .remove(0);
    assert!(
        collector
            .services()
            .iter()
            .all(|s| s == "gateway-under-test")
    );
    assert_eq!(
        noetl.trace_id, graphql.trace_id,
        "the NoETL call is in the request's trace"
    );
    assert_eq!(
        callback.trace_id, graphql.trace_id,
        "the callback continues the same trace"
    );
    assert!(
        collector.descends_from(&noetl, &graphql),
        "NoETL call under the GraphQL request"
    );
    assert!(
        collector.descends_from(&callback, &graphql),
        "callback under the GraphQL request"
    );
    assert!(!collector.descends_from(&graphql, &callback));
    // The callback's parent is exactly the span named in the workload's traceparent.
    let parent_hex: String = callback
        .parent_span_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let trace_hex: String = graphql
        .trace_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(workload_parent, format!("00-{trace_hex}-{parent_hex}-01"));
    assert_eq!(
        string_attribute(&graphql, "http.route").as_deref(),
        Some("/graphql")
    );
    assert_eq!(
        string_attribute(&callback, "http.response.status_code").as_deref(),
        Some("202")
    );
    assert_eq!(
        string_attribute(&noetl, "noetl.operation").as_deref(),
        Some("execute")
    );

    // NATS operations are spans of the trace they serve: the request recorded for the
    // execution, the events the callbacks appended.
    for name in ["nats requests put", "nats events append"] {
        let in_trace = collector
            .named(name)
            .iter()
            .any(|s| s.trace_id == graphql.trace_id && collector.descends_from(s, &graphql));
        assert!(in_trace, "a {name} span in the request's trace");
    }

    // Each delivery is linked to the callback span its event came from, in the same trace.
    let callback_spans: Vec<Span> = collector
        .named("callback")
        .into_iter()
        .filter(|s| s.trace_id == graphql.trace_id)
        .collect();
    assert!(
        !callback_spans.is_empty(),
        "the callbacks have their own spans"
    );
    let deliveries = collector.named("sse deliver");
    assert!(deliveries.len() >= 2, "progress and result deliveries");
    for delivery in &deliveries {
        assert_eq!(delivery.links.len(), 1, "one link per delivery");
        let link = &delivery.links[0];
        assert_eq!(
            link.trace_id, graphql.trace_id,
            "linked to the request's trace"
        );
        let linked = callback_spans
            .iter()
            .find(|s| s.span_id == link.span_id)
            .expect("the link names a callback span");
        assert!(collector.descends_from(linked, &graphql));
    }
}
