//! Adapters (graphql): a WebSocket that must initialise in time. Until its `connection_init`
//! has succeeded, reading the socket also watches a deadline; when that passes, the socket
//! sends close code 4408 (graphql-transport-ws's "connection initialisation timeout") and its
//! stream of messages ends, which ends the GraphQL connection served on it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Sink, Stream};
use poem::web::websocket::Message;
use tokio::time::Sleep;

/// The close code graphql-transport-ws gives a socket that did not initialise in time.
const INIT_TIMEOUT_CODE: u16 = 4408;

/// A socket's messages, ended with a close frame if it does not initialise in time.
pub(super) struct InitDeadline<S> {
    inner: S,
    initialised: Arc<AtomicBool>,
    state: State,
}

enum State {
    /// Not yet initialised: the deadline runs.
    Waiting(Pin<Box<Sleep>>),
    /// Initialised: a socket like any other.
    Open,
    /// The deadline passed: the close frame is being written (`true` once queued).
    Closing(bool),
    /// The close frame has been sent; nothing more is read.
    Closed,
}

impl<S> InitDeadline<S> {
    /// Wraps `inner`, which must initialise within `within`; the flag is set once it has.
    pub(super) fn new(inner: S, within: Duration) -> (Self, Arc<AtomicBool>) {
        let initialised = Arc::new(AtomicBool::new(false));
        let socket = Self {
            inner,
            initialised: initialised.clone(),
            state: State::Waiting(Box::pin(tokio::time::sleep(within))),
        };
        (socket, initialised)
    }
}

impl<S> InitDeadline<S>
where
    S: Sink<Message, Error = std::io::Error> + Unpin,
{
    /// Writes the close frame; `Ready` once it has gone out (or cannot).
    fn poll_close_frame(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = Pin::new(&mut self.inner);
        if let State::Closing(false) = self.state {
            match inner.as_mut().poll_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {
                    let close =
                        Message::close_with(INIT_TIMEOUT_CODE, "Connection initialisation timeout");
                    if inner.as_mut().start_send(close).is_err() {
                        return Poll::Ready(());
                    }
                    self.state = State::Closing(true);
                }
            }
        }
        inner.poll_flush(cx).map(|_| ())
    }
}

impl<S> Stream for InitDeadline<S>
where
    S: Stream<Item = std::io::Result<Message>> + Sink<Message, Error = std::io::Error> + Unpin,
{
    type Item = std::io::Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let State::Waiting(deadline) = &mut this.state {
            if this.initialised.load(Ordering::Acquire) {
                this.state = State::Open;
            } else if deadline.as_mut().poll(cx).is_ready() {
                tracing::debug!("a GraphQL socket sent no connection_init in time; closing");
                this.state = State::Closing(false);
            }
        }
        match this.state {
            State::Closing(_) => {
                if this.poll_close_frame(cx).is_pending() {
                    return Poll::Pending;
                }
                this.state = State::Closed;
                Poll::Ready(None)
            }
            State::Closed => Poll::Ready(None),
            State::Waiting(_) | State::Open => Pin::new(&mut this.inner).poll_next(cx),
        }
    }
}

impl<S> Sink<Message> for InitDeadline<S>
where
    S: Sink<Message, Error = std::io::Error> + Unpin,
{
    type Error = std::io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        Pin::new(&mut self.get_mut().inner).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
