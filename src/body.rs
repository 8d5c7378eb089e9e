//! Body types and the one bounded-buffering primitive the proxy needs.
//!
//! [`read_prefix`] reads a body up to a limit: if the body ends within it, the
//! whole body is in memory (and can be sent again); otherwise what was read is
//! put back in front of the rest, so the body streams on with nothing lost and
//! memory bounded by the limit. The request path uses it to keep small request
//! bodies for replay, and to look inside small 401 answers.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of everything the proxy sends: upstream and to clients.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub fn boxed<B>(body: B) -> ProxyBody
where
    B: Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed()
}

/// A body read up to a limit.
pub enum Prefixed<B> {
    /// The body ended within the limit: this is all of it.
    Complete(Bytes),
    /// The body is longer: `head` was read, `rest` follows.
    Partial { head: Bytes, rest: B },
}

/// Reads `body` until it ends or more than `limit` bytes were read.
/// A body whose declared length already exceeds the limit is not read at all.
pub async fn read_prefix<B>(mut body: B, limit: usize) -> Result<Prefixed<B>, B::Error>
where
    B: Body<Data = Bytes> + Unpin,
{
    if body.size_hint().lower() > limit as u64 {
        return Ok(Prefixed::Partial {
            head: Bytes::new(),
            rest: body,
        });
    }
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        // Trailers are dropped: Zoho's APIs do not use them.
        if let Ok(data) = frame?.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() > limit {
                return Ok(Prefixed::Partial {
                    head: buf.freeze(),
                    rest: body,
                });
            }
        }
    }
    Ok(Prefixed::Complete(buf.freeze()))
}

impl<B> Prefixed<B>
where
    B: Body<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    /// Turns what was read back into one streaming body.
    pub fn into_body(self) -> ProxyBody {
        match self {
            Prefixed::Complete(bytes) => full(bytes),
            Prefixed::Partial { head, rest } => boxed(Chain {
                head: Some(head).filter(|h| !h.is_empty()),
                rest,
            }),
        }
    }
}

/// `head` then `rest`.
struct Chain<B> {
    head: Option<Bytes>,
    rest: B,
}

impl<B: Body<Data = Bytes> + Unpin> Body for Chain<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let head = self.head.as_ref().map_or(0, |h| h.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + head);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + head);
        }
        hint
    }
}

/// A body that holds `guard` until it has been read to the end (or dropped):
/// how a concurrency slot stays taken while Zoho's answer streams back.
pub struct Guarded<B, G> {
    body: B,
    guard: Option<G>,
}

impl<B, G> Guarded<B, G> {
    pub fn new(body: B, guard: G) -> Self {
        Guarded {
            body,
            guard: Some(guard),
        }
    }
}

impl<B: Body + Unpin, G: Unpin> Body for Guarded<B, G> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that yields the given chunks one frame each, with no length hint.
    struct Chunks(std::collections::VecDeque<&'static str>);
    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes())))),
            )
        }
    }
    fn chunked(chunks: &[&'static str]) -> Chunks {
        Chunks(chunks.iter().copied().collect())
    }

    #[tokio::test]
    async fn a_short_body_is_complete_and_a_long_one_streams_on_intact() {
        match read_prefix(chunked(&["ab", "cd"]), 4).await.unwrap() {
            Prefixed::Complete(b) => assert_eq!(&b[..], b"abcd"),
            Prefixed::Partial { .. } => panic!("4 bytes fit in a limit of 4"),
        }
        let p = read_prefix(chunked(&["ab", "cd", "ef", "gh"]), 3)
            .await
            .unwrap();
        assert!(matches!(p, Prefixed::Partial { ref head, .. } if &head[..] == b"abcd"));
        let all = p.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&all[..], b"abcdefgh");
    }

    #[tokio::test]
    async fn a_guard_is_released_when_the_body_ends_not_before() {
        let guard = std::sync::Arc::new(());
        let mut body = Guarded::new(chunked(&["a", "b"]), guard.clone());
        assert_eq!(std::sync::Arc::strong_count(&guard), 2);
        assert!(body.frame().await.is_some());
        assert_eq!(std::sync::Arc::strong_count(&guard), 2, "still streaming");
        assert!(body.frame().await.is_some());
        assert!(body.frame().await.is_none());
        assert_eq!(
            std::sync::Arc::strong_count(&guard),
            1,
            "released at the end"
        );
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_not_read() {
        let p = read_prefix(Full::new(Bytes::from_static(b"0123456789")), 5)
            .await
            .unwrap();
        assert!(matches!(p, Prefixed::Partial { ref head, .. } if head.is_empty()));
        assert_eq!(
            &p.into_body().collect().await.unwrap().to_bytes()[..],
            b"0123456789"
        );
    }
}
