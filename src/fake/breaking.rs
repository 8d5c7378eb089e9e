//! Answers that break off mid-body, for the fault tests: the connection is
//! reset (TCP RST), or the body stops short (a chunked HTTP/1.1 body without
//! its last chunk; an HTTP/2 stream reset).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::body::{boxed, ProxyBody};

/// How a scripted answer breaks off once its body's first bytes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// The connection is reset (RST), under a head that promised more.
    Reset,
    /// The body stops short: no `Content-Length`, and the connection (or
    /// the HTTP/2 stream) ends without the body's end.
    Truncate,
}

/// Marks a connection to be reset rather than closed when it ends; the
/// accept loop puts one in every request's extensions.
#[derive(Clone, Default)]
pub(super) struct ResetOnClose(Arc<AtomicBool>);

impl ResetOnClose {
    fn arm(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The TLS stream of one connection: on drop, the TCP connection is reset
/// (zero linger) if an answer on it asked for it.
pub(super) struct Resettable {
    pub(super) inner: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    pub(super) reset: ResetOnClose,
}

impl Drop for Resettable {
    fn drop(&mut self) {
        if self.reset.0.load(Ordering::SeqCst) {
            let _ = self.inner.get_ref().0.set_zero_linger();
        }
    }
}

impl AsyncRead for Resettable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Resettable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `status` and `head` (the first bytes of the body), then the break.
pub(super) fn breaking(
    status: u16,
    head: String,
    how: Break,
    conn: Option<&ResetOnClose>,
) -> Response<ProxyBody> {
    // A little more than is sent: the size decides whether the proxy reads
    // the answer whole first (up to its `response_buffer`) or streams it.
    let declared = head.len() as u64 + 1000;
    let reset = match how {
        Break::Reset => conn.cloned(),
        Break::Truncate => None,
    };
    let body = Breaking {
        head: Some(Bytes::from(head)),
        // Long enough for the head to be flushed to the socket first.
        pause: Box::pin(tokio::time::sleep(Duration::from_millis(100))),
        reset,
    };
    let mut resp = Response::new(boxed(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    if how == Break::Reset {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    }
    resp
}

/// Yields its head, waits a moment, then fails: hyper then aborts the
/// connection (HTTP/1.1) or resets the stream (HTTP/2).
struct Breaking {
    head: Option<Bytes>,
    pause: Pin<Box<tokio::time::Sleep>>,
    reset: Option<ResetOnClose>,
}

impl http_body::Body for Breaking {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        if self.pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(reset) = &self.reset {
            reset.arm();
        }
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the fake breaks this answer off",
        ))))
    }
}
