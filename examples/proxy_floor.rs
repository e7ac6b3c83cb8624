//! What proxying one request costs in this stack without the gateway's routing, auth and
//! middleware: hyper's HTTP/1.1 server handing every request straight to the gateway's
//! `Forwarder` (`/noetl/x` → `/api/x`, headers passed as they are). `bench/proxy.sh` runs it
//! beside nginx and the gateway. Usage: `proxy_floor PORT UPSTREAM_BASE_URL`. With
//! `PER_CORE=N` it runs N threads, each a single-threaded runtime with its own listener on
//! the port (`SO_REUSEPORT`) and its own upstream pool, the way nginx's workers run
//! (`bench/floor_per_core.sh` compares the two).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench tool, not the service

use std::convert::Infallible;
use std::time::Duration;

use futures_util::TryStreamExt;
use http_body_util::{BodyExt, BodyStream, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use noetl_gateway::adapters::noetl::{ForwarderSettings, HyperForwarder};
use noetl_gateway::ports::{ForwardRequest, Forwarder};

#[global_allocator]
static ALLOCATOR: noetl_gateway::allocator::Allocator = noetl_gateway::allocator::Allocator;

async fn forward(
    forwarder: HyperForwarder,
    req: hyper::Request<Incoming>,
) -> hyper::Response<http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, std::io::Error>> {
    let (parts, body) = req.into_parts();
    let rest = parts.uri.path().strip_prefix("/noetl").unwrap_or("/");
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("/api{rest}?{q}"),
        None => format!("/api{rest}"),
    };
    let body = BodyStream::new(body)
        .try_filter_map(|f| std::future::ready(Ok(f.into_data().ok())))
        .map_err(std::io::Error::other);
    let request = ForwardRequest {
        method: parts.method,
        path_and_query,
        has_body: parts.headers.contains_key("content-length"),
        headers: parts.headers,
        body: Box::pin(body),
    };
    match forwarder.forward(request).await {
        Ok(answer) => {
            let mut response = hyper::Response::new(
                StreamBody::new(answer.body.map_ok(Frame::data)).boxed_unsync(),
            );
            *response.status_mut() = answer.status;
            *response.headers_mut() = answer.headers;
            response
        }
        Err(_) => {
            let mut response = hyper::Response::new(
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            );
            *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            response
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().expect("PORT").parse().unwrap();
    let base_url = args.next().expect("UPSTREAM_BASE_URL");
    let per_core: usize = std::env::var("PER_CORE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if per_core == 0 {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(serve(port, base_url, false));
        return;
    }
    let threads: Vec<_> = (0..per_core)
        .map(|_| {
            let base_url = base_url.clone();
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(serve(port, base_url, true))
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

async fn serve(port: u16, base_url: String, reuse: bool) {
    let forwarder = HyperForwarder::new(ForwarderSettings {
        base_url,
        connect_timeout: Duration::from_secs(2),
        first_byte_timeout: Duration::from_secs(30),
        max_connections: 1024,
    });
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    if reuse {
        socket.set_reuseport(true).unwrap();
    }
    socket.bind(([127, 0, 0, 1], port).into()).unwrap();
    let listener = socket.listen(1024).unwrap();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_nodelay(true).unwrap();
        let forwarder = forwarder.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let forwarder = forwarder.clone();
                async move { Ok::<_, Infallible>(forward(forwarder, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
