//! Test harness: a small Server-Sent Events client over reqwest that parses frames.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

/// One SSE frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
    pub retry: Option<u64>,
}

pub struct SseClient {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
    pub status: u16,
}

impl SseClient {
    pub async fn connect(request: reqwest::RequestBuilder) -> Self {
        Self::try_connect(request).await.expect("the stream opens")
    }

    /// As `connect`, handing back a failure to connect instead of panicking.
    pub async fn try_connect(request: reqwest::RequestBuilder) -> reqwest::Result<Self> {
        let resp = request.send().await?;
        let status = resp.status().as_u16();
        Ok(Self {
            body: resp.bytes_stream().boxed(),
            buffer: String::new(),
            status,
        })
    }

    /// The next frame, or `None` when the stream ended or nothing came within `within`.
    pub async fn next_within(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                if let Some(frame) = parse(&raw) {
                    return Some(frame);
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }

    pub async fn next(&mut self) -> Frame {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("a frame within 10 s")
    }

    /// The next frame that is not a ping.
    pub async fn next_event(&mut self) -> Frame {
        loop {
            let frame = self.next().await;
            if frame.event != "ping" {
                return frame;
            }
        }
    }
}

fn parse(raw: &str) -> Option<Frame> {
    let mut frame = Frame {
        event: "message".into(),
        id: None,
        data: Value::Null,
        retry: None,
    };
    let mut data = String::new();
    let mut any = false;
    for line in raw.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            frame.event = v.trim().to_owned();
            any = true;
        } else if let Some(v) = line.strip_prefix("id:") {
            frame.id = Some(v.trim().to_owned());
            any = true;
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
            any = true;
        } else if let Some(v) = line.strip_prefix("retry:") {
            frame.retry = v.trim().parse().ok();
            any = true;
        }
    }
    if !data.is_empty() {
        frame.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
    }
    any.then_some(frame)
}
