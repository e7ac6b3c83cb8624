//! Adapters (http): the bound on a request's head (its target and headers), the same for
//! HTTP/1.1 and HTTP/2. A head over [`HEAD_LIMIT`] is answered 431 in the JSON error model.
//! The protocol layers read more than that, so such a head can still be read and answered;
//! past what they buffer they refuse it themselves: HTTP/2 past [`HTTP2_HEADER_LIST_LIMIT`],
//! HTTP/1.1 past [`HTTP1_READ_BUFFER`] (a bare 431, then the connection closes). That bound is
//! also what a connection can make the gateway hold for a head that never ends.

use poem::http::{HeaderMap, Method, Uri};

/// The largest request head the gateway serves, in bytes (nginx's default allows 4 × 8 KiB).
pub const HEAD_LIMIT: usize = 32 * 1024;

/// What HTTP/2's header list may hold before the protocol layer refuses it.
pub const HTTP2_HEADER_LIST_LIMIT: usize = 2 * HEAD_LIMIT;

/// hyper's HTTP/1.1 read buffer, for heads and bodies alike (its default is about 400 KiB,
/// which a thousand never-ending heads turn into 400 MiB held; bodies stream as well through
/// 64 KiB reads, `bench/README.md`).
pub const HTTP1_READ_BUFFER: usize = 2 * HEAD_LIMIT;

/// The message of the 431 answer.
pub const TOO_LARGE_MESSAGE: &str = "the request's target and headers exceed 32 KiB";

/// The size of a request head as HTTP/1.1 would write it: the request line, each header as
/// `name: value` and a line break, and the blank line that ends the head.
pub fn head_size(method: &Method, uri: &Uri, headers: &HeaderMap) -> usize {
    let target = uri.path_and_query().map_or(1, |p| p.as_str().len());
    let fields: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    method.as_str().len() + " ".len() + target + " HTTP/1.1\r\n".len() + fields + "\r\n".len()
}

/// Whether a request head is over [`HEAD_LIMIT`].
pub fn too_large(method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    head_size(method, uri, headers) > HEAD_LIMIT
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use poem::http::HeaderValue;

    use super::*;

    #[test]
    fn the_size_counts_the_request_line_and_every_header() {
        let uri: Uri = "/noetl/x?a=1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("gw"));
        headers.append("cookie", HeaderValue::from_static("a=1"));
        headers.append("cookie", HeaderValue::from_static("b=2"));
        let written = "GET /noetl/x?a=1 HTTP/1.1\r\nhost: gw\r\ncookie: a=1\r\ncookie: b=2\r\n\r\n";
        assert_eq!(head_size(&Method::GET, &uri, &headers), written.len());
    }

    #[test]
    fn a_head_just_over_the_limit_is_too_large_and_one_at_it_is_not() {
        let uri: Uri = "/health".parse().unwrap();
        let empty = head_size(&Method::GET, &uri, &HeaderMap::new());
        let mut headers = HeaderMap::new();
        // One header of "x: " + value + CRLF, sized to meet the limit exactly.
        let value = "v".repeat(HEAD_LIMIT - empty - "x".len() - 4);
        headers.insert("x", HeaderValue::from_str(&value).unwrap());
        assert!(!too_large(&Method::GET, &uri, &headers));
        let value = format!("{value}v");
        headers.insert("x", HeaderValue::from_str(&value).unwrap());
        assert!(too_large(&Method::GET, &uri, &headers));
    }
}
