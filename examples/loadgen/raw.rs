//! The raw HTTP/1.1 request the open-loop modes send, and how they tell an answer is complete.

use crate::Args;

/// `host:port` of the target.
pub fn authority(args: &Args) -> String {
    args.url.authority().expect("host:port").as_str().to_owned()
}

/// One keep-alive request: GET, or POST with the JSON body.
pub fn request(args: &Args) -> Vec<u8> {
    let path = args.url.path_and_query().map_or("/", |p| p.as_str());
    let method = if args.body.is_some() { "POST" } else { "GET" };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", authority(args));
    for (k, v) in &args.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = args.body.clone().unwrap_or_default();
    if args.body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    head.into_bytes()
}

/// `Some(is 2xx)` once `buf` holds a whole answer (head and Content-Length bytes of body).
pub fn response_complete(buf: &[u8]) -> Option<bool> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let headers = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let len: usize = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= end + 4 + len).then(|| headers.starts_with("http/1.1 2"))
}
