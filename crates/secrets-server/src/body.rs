//! Reading a request body whole: within the per-request limit, and on a share of the
//! server-wide budget of body bytes.
//!
//! A body is read before its signature can be checked (the V3 signature covers the body's
//! hash, the V1 one its parameters), so anyone who can connect can make the server hold one.
//! The budget bounds what all of them together hold, however many connections there are: a
//! declared `Content-Length` is drawn from it before a byte is read, a chunked body as it
//! arrives, and the share is given back when the request ends. A request that cannot get its
//! share is refused at once rather than made to wait.

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Body;
use tokio::sync::{Semaphore, SemaphorePermit};

/// The budget's unit, in bytes: one permit per KiB keeps the counts small.
const UNIT: usize = 1024;

/// The server-wide budget of request-body bytes.
pub(crate) struct BodyBudget {
    permits: Semaphore,
}

impl BodyBudget {
    /// A budget of `bytes`, rounded up to whole KiB.
    pub(crate) fn new(bytes: usize) -> Self {
        BodyBudget {
            permits: Semaphore::new(units(bytes).min(Semaphore::MAX_PERMITS)),
        }
    }

    /// The bytes not held by any request.
    #[cfg(test)]
    fn available(&self) -> usize {
        self.permits.available_permits() * UNIT
    }
}

/// Why a body was not read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// It is (or says it is) larger than the per-request limit.
    TooLarge,
    /// The budget has no room for it now.
    OverBudget,
    /// The connection failed or the framing was wrong.
    Read(Box<dyn std::error::Error + Send + Sync>),
}

/// A body read whole. Its share of the budget is held until this is dropped, so it covers
/// the parameters parsed from the body as long as the request runs.
pub(crate) struct ReadBody<'a> {
    pub(crate) bytes: Bytes,
    _share: Share<'a>,
}

/// The part of the budget one request holds.
struct Share<'a> {
    budget: &'a BodyBudget,
    permit: Option<SemaphorePermit<'a>>,
}

impl<'a> Share<'a> {
    /// Makes the share cover `bytes`, taking more of the budget if it must.
    fn cover(&mut self, bytes: usize) -> Result<(), BodyError> {
        let held = self.permit.as_ref().map_or(0, SemaphorePermit::num_permits);
        let more = units(bytes).saturating_sub(held);
        if more == 0 {
            return Ok(());
        }
        let more = u32::try_from(more).map_err(|_| BodyError::OverBudget)?;
        let permit = self
            .budget
            .permits
            .try_acquire_many(more)
            .map_err(|_| BodyError::OverBudget)?;
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
        Ok(())
    }
}

/// Reads `body` whole. A `declared` length over `limit` is refused before anything is read,
/// and so is one the budget has no room for; without a declared length, the budget is drawn on
/// as the bytes arrive, for the memory they take.
pub(crate) async fn read<B>(
    mut body: B,
    declared: Option<u64>,
    limit: usize,
    budget: &BodyBudget,
) -> Result<ReadBody<'_>, BodyError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut share = Share {
        budget,
        permit: None,
    };
    let declared = match declared {
        Some(n) => {
            let n = usize::try_from(n)
                .ok()
                .filter(|n| *n <= limit)
                .ok_or(BodyError::TooLarge)?;
            share.cover(n)?;
            Some(n)
        }
        None => None,
    };
    // The usual body arrives in one piece and is kept as it is; a body in several pieces is
    // copied into one buffer, since each piece would keep its whole read buffer alive.
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|e| BodyError::Read(e.into()))?.into_data() else {
            continue; // trailers: not part of the body
        };
        if data.is_empty() {
            continue;
        }
        len = len
            .checked_add(data.len())
            .filter(|n| *n <= limit)
            .ok_or(BodyError::TooLarge)?;
        if first.is_none() && joined.is_empty() {
            share.cover(len)?;
            first = Some(data);
            continue;
        }
        if joined.capacity() < len {
            // A declared length is the size; otherwise grow by doubling, up to the limit.
            let capacity = match declared {
                Some(n) if n >= len => n,
                _ => len.max(joined.capacity().saturating_mul(2)).min(limit),
            };
            share.cover(capacity)?;
            joined.reserve_exact(capacity - joined.len());
        }
        if let Some(first) = first.take() {
            joined.extend_from_slice(&first);
        }
        joined.extend_from_slice(&data);
    }
    let bytes = match first {
        Some(only) => only,
        None => Bytes::from(joined),
    };
    Ok(ReadBody {
        bytes,
        _share: share,
    })
}

/// `bytes` in budget units, rounded up.
fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::body::Frame;

    use super::*;

    /// A body in the given pieces, with no declared length.
    struct Pieces(VecDeque<Bytes>);

    impl Body for Pieces {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    fn pieces(sizes: &[usize]) -> Pieces {
        Pieces(sizes.iter().map(|n| Bytes::from(vec![b'a'; *n])).collect())
    }

    /// A body that never yields: reading it would hang the test.
    struct Never;

    impl Body for Never {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_declared_length_the_budget_cannot_cover_is_refused_before_reading() {
        let budget = BodyBudget::new(8 * 1024);
        let held = read(pieces(&[5000]), Some(5000), 1 << 20, &budget)
            .await
            .unwrap();
        assert_eq!(budget.available(), 3 * 1024);
        let refused = read(Never, Some(4000), 1 << 20, &budget).await;
        assert!(matches!(refused, Err(BodyError::OverBudget)));
        drop(held);
        assert_eq!(budget.available(), 8 * 1024);
        assert!(
            read(pieces(&[4000]), Some(4000), 1 << 20, &budget)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_too_large_before_reading() {
        let budget = BodyBudget::new(1 << 20);
        let refused = read(Never, Some(4097), 4096, &budget).await;
        assert!(matches!(refused, Err(BodyError::TooLarge)));
        assert_eq!(budget.available(), 1 << 20);
    }

    #[tokio::test]
    async fn a_body_without_a_length_draws_on_the_budget_as_it_arrives() {
        let budget = BodyBudget::new(8 * 1024);
        let body = read(pieces(&[3000, 3000]), None, 1 << 20, &budget)
            .await
            .unwrap();
        assert_eq!(body.bytes.len(), 6000);
        assert_eq!(budget.available(), 2 * 1024, "6000 bytes take 6 KiB");
        let refused = read(pieces(&[1000, 1000, 1000]), None, 1 << 20, &budget).await;
        assert!(matches!(refused, Err(BodyError::OverBudget)));
        assert_eq!(
            budget.available(),
            2 * 1024,
            "a refused body gives its share back"
        );
        drop(body);
        assert_eq!(budget.available(), 8 * 1024);
    }

    #[tokio::test]
    async fn many_small_pieces_are_counted_for_the_buffer_they_fill() {
        let budget = BodyBudget::new(64 * 1024);
        let body = read(pieces(&[1; 5000]), None, 1 << 20, &budget)
            .await
            .unwrap();
        assert_eq!(body.bytes.len(), 5000);
        let held = 64 * 1024 - budget.available();
        assert!((5000..=2 * 5000 + UNIT).contains(&held), "{held}");
    }

    #[tokio::test]
    async fn a_body_without_a_length_over_the_limit_is_too_large() {
        let budget = BodyBudget::new(1 << 20);
        let refused = read(pieces(&[3000, 3000]), None, 4096, &budget).await;
        assert!(matches!(refused, Err(BodyError::TooLarge)));
        assert_eq!(budget.available(), 1 << 20);
    }

    #[tokio::test]
    async fn an_empty_body_takes_nothing_from_the_budget() {
        let budget = BodyBudget::new(0);
        let body = read(pieces(&[]), Some(0), 1 << 20, &budget).await.unwrap();
        assert!(body.bytes.is_empty());
        let body = read(pieces(&[]), None, 1 << 20, &budget).await.unwrap();
        assert!(body.bytes.is_empty());
    }
}
