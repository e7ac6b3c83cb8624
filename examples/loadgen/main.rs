//! A small HTTP load generator for `bench/`: N keep-alive HTTP/1.1 connections, either closed
//! loop (tokio, as fast as answers come) or open loop at a fixed total rate (OS threads,
//! precise pacing, no coordinated omission; or `--spin`: one busy-polling thread). Prints one
//! JSON line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a bench tool, not the service

mod raw;
mod spin;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

struct Args {
    url: http::Uri,
    body: Option<String>,
    headers: Vec<(String, String)>,
    connections: usize,
    duration: Duration,
    rate: f64,
    spin: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        url: "http://127.0.0.1:8090/health".parse().unwrap(),
        body: None,
        headers: Vec::new(),
        connections: 32,
        duration: Duration::from_secs(10),
        rate: 0.0,
        spin: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--spin" {
            args.spin = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value.parse().expect("a URL"),
            "--body" => args.body = Some(value),
            "--header" => {
                let (k, v) = value.split_once(':').expect("name: value");
                args.headers
                    .push((k.trim().to_owned(), v.trim().to_owned()));
            }
            "--connections" => args.connections = value.parse().expect("a number"),
            "--seconds" => args.duration = Duration::from_secs_f64(value.parse().expect("seconds")),
            "--rate" => args.rate = value.parse().expect("requests per second"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

async fn worker(args: std::sync::Arc<Args>, index: usize, start: Instant) -> (Vec<u32>, u64) {
    let authority = args.url.authority().expect("host:port").as_str().to_owned();
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .expect("connects");
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let per_conn_interval =
        (args.rate > 0.0).then(|| Duration::from_secs_f64(args.connections as f64 / args.rate));
    let offset = per_conn_interval
        .map(|i| i.mul_f64(index as f64 / args.connections as f64))
        .unwrap_or_default();
    let mut latencies = Vec::with_capacity(100_000);
    let mut errors = 0;
    let mut n: u32 = 0;
    let mut previous_done = start;
    loop {
        let scheduled = match per_conn_interval {
            Some(interval) => start + offset + interval * n,
            None => Instant::now(),
        };
        if scheduled.duration_since(start) >= args.duration {
            break;
        }
        n += 1;
        if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        // A request held back by a slow previous answer counts from its scheduled time (no
        // coordinated omission); one only held back by our own millisecond-grained timer
        // counts from when it was sent.
        let counted_from = if previous_done > scheduled {
            scheduled
        } else {
            Instant::now()
        };
        let mut req = Request::builder()
            .method(if args.body.is_some() { "POST" } else { "GET" })
            .uri(args.url.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .header("host", &authority);
        if args.body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in &args.headers {
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(Bytes::from(
                args.body.clone().unwrap_or_default(),
            )))
            .unwrap();
        match sender.send_request(req).await {
            Ok(resp) => {
                let ok = resp.status().is_success();
                let _ = resp.into_body().collect().await;
                previous_done = Instant::now();
                if ok {
                    latencies.push(
                        u32::try_from(counted_from.elapsed().as_micros()).unwrap_or(u32::MAX),
                    );
                } else {
                    errors += 1;
                }
            }
            Err(_) => {
                errors += 1;
                break;
            }
        }
    }
    (latencies, errors)
}

/// Open loop on OS threads with blocking sockets: `std::thread::sleep` wakes within tens of
/// microseconds, where a tokio timer rounds up to the next millisecond and sends in bursts.
fn paced(args: std::sync::Arc<Args>) {
    use std::io::{Read, Write};
    let authority = raw::authority(&args);
    let request = std::sync::Arc::new(raw::request(&args));
    let start = Instant::now() + Duration::from_millis(50);
    let interval = Duration::from_secs_f64(args.connections as f64 / args.rate);
    let threads: Vec<_> = (0..args.connections)
        .map(|index| {
            let (args, request, authority) = (args.clone(), request.clone(), authority.clone());
            std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(&authority).expect("connects");
                stream.set_nodelay(true).unwrap();
                let offset = interval.mul_f64(index as f64 / args.connections as f64);
                let (mut latencies, mut errors, mut previous_done) = (Vec::new(), 0u64, start);
                let mut buf = vec![0u8; 64 * 1024];
                for n in 0u32.. {
                    let scheduled = start + offset + interval * n;
                    if scheduled.duration_since(start) >= args.duration {
                        break;
                    }
                    if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let counted_from = if previous_done > scheduled {
                        scheduled
                    } else {
                        Instant::now()
                    };
                    if stream.write_all(&request).is_err() {
                        errors += 1;
                        break;
                    }
                    let mut got = 0;
                    let complete = loop {
                        match stream.read(&mut buf[got..]) {
                            Ok(0) | Err(_) => break None,
                            Ok(k) => got += k,
                        }
                        if let Some(ok) = raw::response_complete(&buf[..got]) {
                            break Some(ok);
                        }
                    };
                    previous_done = Instant::now();
                    match complete {
                        Some(true) => latencies.push(
                            u32::try_from(counted_from.elapsed().as_micros()).unwrap_or(u32::MAX),
                        ),
                        Some(false) => errors += 1,
                        None => {
                            errors += 1;
                            break;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in threads {
        let (l, e) = t.join().unwrap();
        all.extend(l);
        errors += e;
    }
    report(all, errors, args.duration.as_secs_f64());
}

fn report(mut all: Vec<u32>, errors: u64, elapsed: f64) {
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{{\"requests\":{},\"errors\":{},\"rps\":{:.0},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"max_us\":{}}}",
        all.len(),
        errors,
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        all.last().copied().unwrap_or(0)
    );
}

fn main() {
    let args = std::sync::Arc::new(parse_args());
    if args.rate > 0.0 && args.spin {
        let (latencies, errors) = spin::run(&args);
        report(latencies, errors, args.duration.as_secs_f64());
        return;
    }
    if args.rate > 0.0 {
        paced(args);
        return;
    }
    closed(args);
}

#[tokio::main]
async fn closed(args: std::sync::Arc<Args>) {
    let start = Instant::now() + Duration::from_millis(50);
    let tasks: Vec<_> = (0..args.connections)
        .map(|i| tokio::spawn(worker(args.clone(), i, start)))
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = start
        .elapsed()
        .as_secs_f64()
        .max(args.duration.as_secs_f64());
    report(all, errors, elapsed);
}
