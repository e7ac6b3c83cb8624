//! What one idle SSE connection costs in this stack, without the gateway: a minimal app
//! whose `/events` sends one frame and then waits, served five ways (`bench/sse_floor.sh`
//! holds N streams on each and reports RSS per stream). Usage: `sse_floor PORT MODE`, MODE
//! one of `poem-server`, `auto`, `h1-sse`, `h1-chunks`, `h1-raw`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench tool, not the service

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use poem::endpoint::{DynEndpoint, ToDynEndpoint};
use poem::http::uri::Scheme;
use poem::listener::TcpListener as PoemListener;
use poem::web::sse::{Event, SSE};
use poem::web::{LocalAddr, RemoteAddr};
use poem::{
    Addr, Body, Endpoint, EndpointExt, IntoResponse, Response, Route, Server, get, handler,
};

#[global_allocator]
static ALLOCATOR: noetl_gateway::allocator::Allocator = noetl_gateway::allocator::Allocator;

const FRAME: &str = "{\"protocolVersion\":1}";

fn first() -> Event {
    Event::message(FRAME).event_type("message").id("0")
}

/// poem's own SSE response.
#[handler]
fn sse() -> Response {
    SSE::new(stream::iter([first()]).chain(stream::pending())).into_response()
}

/// Each frame as a body chunk of its own.
#[handler]
fn chunks() -> Response {
    let frames = stream::iter([first()])
        .chain(stream::pending())
        .map(|e| Ok::<_, std::io::Error>(Bytes::from(e.to_string())));
    Response::builder()
        .content_type("text/event-stream")
        .body(Body::from_bytes_stream(frames))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().expect("PORT").parse().unwrap();
    let mode = args.next().expect("MODE");
    let app = if mode == "h1-chunks" {
        Route::new().at("/events", get(chunks))
    } else {
        Route::new().at("/events", get(sse))
    };
    if mode == "poem-server" {
        let listener = PoemListener::bind(format!("127.0.0.1:{port}"));
        Server::new(listener).run(app).await.unwrap();
        return;
    }
    let endpoint: Arc<dyn DynEndpoint<Output = Response>> =
        Arc::new(ToDynEndpoint(app.map_to_response()));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr().unwrap()));
    loop {
        let (socket, remote) = listener.accept().await.unwrap();
        let io = TokioIo::new(socket);
        let endpoint = endpoint.clone();
        let local = local.clone();
        let poem_service = service_fn(move |req: hyper::Request<Incoming>| {
            let endpoint = endpoint.clone();
            let remote = RemoteAddr(Addr::SocketAddr(remote));
            let request = poem::Request::from((req, local.clone(), remote, Scheme::HTTP));
            async move {
                Ok::<_, Infallible>(hyper::Response::from(endpoint.get_response(request).await))
            }
        });
        match mode.as_str() {
            "auto" => {
                tokio::spawn(async move {
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder
                        .serve_connection_with_upgrades(io, poem_service)
                        .await;
                });
            }
            "h1-sse" | "h1-chunks" => {
                tokio::spawn(async move {
                    let conn = http1::Builder::new().serve_connection(io, poem_service);
                    let _ = conn.with_upgrades().await;
                });
            }
            "h1-raw" => {
                let raw = service_fn(|_req: hyper::Request<Incoming>| async {
                    let frame = Bytes::from(format!("id: 0\ndata: {FRAME}\n\n"));
                    let body = http_body_util::StreamBody::new(
                        stream::iter([Ok::<_, Infallible>(Frame::data(frame))])
                            .chain(stream::pending()),
                    );
                    Ok::<_, Infallible>(hyper::Response::new(body))
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new().serve_connection(io, raw).await;
                });
            }
            other => panic!("unknown mode {other}"),
        }
    }
}
