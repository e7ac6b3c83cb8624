//! Adapters (http): a connection wrapper that fails a write the peer has taken nothing of for
//! the send timeout. A client that stopped reading (an SSE stream in a frozen tab, a download
//! nobody drains) is then disconnected rather than holding its socket and buffers forever; an
//! SSE client reconnects with its last event id and resumes from the log. It also holds the
//! connection's place under its listener's bound, so the place lasts as long as the socket,
//! past an upgrade to a WebSocket too.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::admission::Place;

#[derive(Debug)]
pub(crate) struct SendTimeout<T> {
    io: T,
    limit: Duration,
    /// Running while a write waits on the peer; boxed, and only then, so an idle or flowing
    /// connection carries no timer.
    stalled: Option<Pin<Box<Sleep>>>,
    /// Given back when the socket is dropped.
    _place: Option<Place>,
}

impl<T> SendTimeout<T> {
    pub(crate) fn new(io: T, limit: Duration) -> Self {
        Self {
            io,
            limit,
            stalled: None,
            _place: None,
        }
    }

    /// The same wrapper, holding `place` until it is dropped.
    pub(crate) fn holding(mut self, place: Option<Place>) -> Self {
        self._place = place;
        self
    }

    /// Passes a write's outcome on; a write still waiting when the limit runs out fails.
    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if outcome.is_ready() {
            self.stalled = None;
            return outcome;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if timer.as_mut().poll(cx).is_ready() {
            self.stalled = None;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer took nothing written to it within the send timeout",
            )));
        }
        Poll::Pending
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SendTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SendTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, outcome)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.io).poll_shutdown(cx);
        self.watch(cx, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_write_the_peer_never_takes_fails_after_the_limit() {
        let (near, _far) = tokio::io::duplex(64);
        let mut conn = SendTimeout::new(near, Duration::from_millis(100));
        let started = std::time::Instant::now();
        let err = conn
            .write_all(&[0u8; 1024])
            .await
            .expect_err("nobody reads the far end");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_slow_but_reading_peer_is_not_cut_off() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut conn = SendTimeout::new(near, Duration::from_millis(200));
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 64];
            while got < 1024 {
                tokio::time::sleep(Duration::from_millis(30)).await;
                got += tokio::io::AsyncReadExt::read(&mut far, &mut buf)
                    .await
                    .unwrap();
            }
            got
        });
        // 16 reads of 64 bytes, 30 ms apart: about 0.5 s in all, each wait well under 200 ms.
        conn.write_all(&[0u8; 1024])
            .await
            .expect("the peer keeps taking");
        assert_eq!(reader.await.unwrap(), 1024);
    }
}
