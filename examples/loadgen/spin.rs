//! Open loop from one thread that never sleeps: requests fall due every 1/rate seconds and go
//! out on the first idle connection within microseconds of their time; answers are picked up
//! by polling non-blocking sockets. Each latency counts from the request's due time, so a
//! request that waited for an idle connection includes that wait. Meant to run on a core of
//! its own (`taskset`), where no sleep or wake-up of the load generator adds to the figures.
//! With `LOADGEN_TIMELINE=FILE`, each answered request's due time (µs from the start) and
//! latency (µs) are also written to FILE, a line each, to see when in a run the slow ones fell.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::{Args, raw};

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    got: usize,
    due: Option<Instant>,
}

/// Latencies in microseconds and the number of failed requests.
pub fn run(args: &Args) -> (Vec<u32>, u64) {
    let authority = raw::authority(args);
    let request = raw::request(args);
    let mut conns: Vec<Conn> = (0..args.connections)
        .map(|_| {
            let stream = TcpStream::connect(&authority).expect("connects");
            stream.set_nodelay(true).unwrap();
            stream.set_nonblocking(true).unwrap();
            Conn {
                stream,
                buf: vec![0; 64 * 1024],
                got: 0,
                due: None,
            }
        })
        .collect();
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + args.duration;
    let give_up = end + Duration::from_secs(5);
    let (mut next_due, mut latencies, mut errors) = (start, Vec::new(), 0u64);
    let mut timeline: Vec<(u64, u32)> = Vec::new();
    loop {
        let now = Instant::now();
        let busy = conns.iter().any(|c| c.due.is_some());
        if (now >= end && !busy) || now >= give_up {
            break;
        }
        while next_due <= now && next_due < end {
            let Some(idle) = conns.iter_mut().find(|c| c.due.is_none()) else {
                break;
            };
            if idle.stream.write_all(&request).is_err() {
                errors += 1;
            } else {
                idle.due = Some(next_due);
            }
            next_due += interval;
        }
        for c in conns.iter_mut().filter(|c| c.due.is_some()) {
            let got = c.got;
            match c.stream.read(&mut c.buf[got..]) {
                Ok(0) => {
                    errors += 1;
                    c.due = None;
                }
                Ok(k) => c.got += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(_) => {
                    errors += 1;
                    c.due = None;
                }
            }
            if let (Some(ok), Some(due)) = (raw::response_complete(&c.buf[..c.got]), c.due) {
                if ok {
                    let us = Instant::now().duration_since(due).as_micros();
                    let us = u32::try_from(us).unwrap_or(u32::MAX);
                    latencies.push(us);
                    let at = due.saturating_duration_since(start).as_micros();
                    timeline.push((u64::try_from(at).unwrap_or(u64::MAX), us));
                } else {
                    errors += 1;
                }
                c.got = 0;
                c.due = None;
            }
        }
    }
    if let Some(path) = std::env::var_os("LOADGEN_TIMELINE") {
        let lines: String = timeline
            .iter()
            .map(|(at, us)| format!("{at} {us}\n"))
            .collect();
        std::fs::write(path, lines).expect("the timeline file is writable");
    }
    (latencies, errors)
}
