//! Larger pieces for the hops of a transfer: an HTTP body arrives in whatever pieces the
//! socket gave (often a few KiB), and each piece costs a write, a wake-up and a frame at every
//! hop after it (the agent's HTTP call, Docker's exec stream, the container's pipe).
//! `coalesced` gathers them into pieces of at least `at_least` bytes (the last may be
//! smaller), so memory stays bounded by about twice that per transfer.
use super::ByteStream;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// How large the pieces passed between hops are.
pub const PIECE: usize = 1 << 20;

/// `stream` in pieces of at least `at_least` bytes (the last one may be smaller). An error is
/// passed on at once, what was gathered before it dropped.
pub fn coalesced(stream: ByteStream, at_least: usize) -> ByteStream {
    Box::pin(Coalesced {
        inner: stream,
        gathered: BytesMut::new(),
        at_least,
        ended: false,
    })
}

struct Coalesced {
    inner: ByteStream,
    gathered: BytesMut,
    at_least: usize,
    ended: bool,
}

impl Coalesced {
    fn take(&mut self) -> Bytes {
        self.gathered.split().freeze()
    }
}

impl Stream for Coalesced {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                if this.gathered.is_empty() {
                    return Poll::Ready(None);
                }
                return Poll::Ready(Some(Ok(this.take())));
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(piece))) => {
                    if this.gathered.is_empty() && piece.len() >= this.at_least {
                        return Poll::Ready(Some(Ok(piece)));
                    }
                    if this.gathered.is_empty() {
                        this.gathered.reserve(this.at_least.max(piece.len()));
                    }
                    this.gathered.extend_from_slice(&piece);
                    if this.gathered.len() >= this.at_least {
                        return Poll::Ready(Some(Ok(this.take())));
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    this.ended = true;
                    this.gathered.clear();
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(None) => this.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn pieces(sizes: &[usize]) -> ByteStream {
        let mut next = 0u8;
        let items: Vec<Result<Bytes, std::io::Error>> = sizes
            .iter()
            .map(|size| {
                let piece: Vec<u8> = (0..*size)
                    .map(|_| {
                        next = next.wrapping_add(1);
                        next
                    })
                    .collect();
                Ok(Bytes::from(piece))
            })
            .collect();
        Box::pin(futures_util::stream::iter(items))
    }

    async fn collect(stream: ByteStream) -> (Vec<usize>, Vec<u8>) {
        let got: Vec<Bytes> = stream.map(|piece| piece.unwrap()).collect().await;
        let sizes = got.iter().map(Bytes::len).collect();
        (sizes, got.concat())
    }

    #[tokio::test]
    async fn small_pieces_are_gathered_and_the_bytes_kept_in_order() {
        let (_, original) = collect(pieces(&[3, 4, 5, 10, 1, 2])).await;
        let (sizes, bytes) = collect(coalesced(pieces(&[3, 4, 5, 10, 1, 2]), 8)).await;
        assert_eq!(sizes, [12, 10, 3]);
        assert_eq!(bytes, original);
    }

    #[tokio::test]
    async fn large_pieces_pass_as_they_are_and_nothing_empty_is_sent() {
        let (sizes, _) = collect(coalesced(pieces(&[20, 2, 30]), 8)).await;
        assert_eq!(sizes, [20, 32]);
        let (sizes, _) = collect(coalesced(pieces(&[]), 8)).await;
        assert!(sizes.is_empty());
    }

    #[tokio::test]
    async fn an_error_is_passed_on_at_once() {
        let items: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("cut")),
            Ok(Bytes::from_static(b"never")),
        ];
        let mut stream = coalesced(Box::pin(futures_util::stream::iter(items)), 8);
        let first = stream.next().await.unwrap();
        assert_eq!(first.unwrap_err().to_string(), "cut");
        assert!(stream.next().await.is_none());
    }
}
