//! Bounds on what a Kubernetes API server sends, as a layer under kube's client.
//!
//! kube reads a list page whole and splits a watch stream into lines with no length
//! limit, so an address that is not an API server (a file server, a log stream) or a
//! hostile one could fill memory. This layer ends a list answer over its limit, and a
//! watch line over the same limit, with an error in words; the source goes down with
//! them and its watcher retries with backoff. A real list page (the watcher asks 500
//! objects a page) is a few MB, a watch line one object.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use kube::client::{Body, DynBody};

use super::bounds::AnswerLimit;

/// The error type of kube's service stack.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wraps kube's service so that every answer's body is bounded by `limit`.
#[derive(Clone, Copy)]
pub(crate) struct BoundLayer {
    /// The most a list answer, or one watch line, may hold.
    pub(crate) limit: AnswerLimit,
}

impl<S> tower::Layer<S> for BoundLayer {
    type Service = Bounded<S>;

    fn layer(&self, inner: S) -> Bounded<S> {
        Bounded {
            inner,
            limit: self.limit,
        }
    }
}

/// kube's service with its answers bounded (see [`BoundLayer`]).
pub(crate) struct Bounded<S> {
    inner: S,
    limit: AnswerLimit,
}

impl<S> tower::Service<http::Request<Body>> for Bounded<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Box<DynBody>>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<BoundedBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        // A watch streams for as long as it lasts: its lines are bounded, not its total.
        let watch = req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
        let what = super::redact_url(&req.uri().to_string());
        let limit = self.limit;
        let answer = self.inner.call(req);
        Box::pin(async move {
            let resp = answer.await?;
            Ok(resp.map(|inner| BoundedBody {
                inner,
                limit,
                watch,
                counted: 0,
                what,
            }))
        })
    }
}

/// An answer's body that fails once it holds more than its limit (a list) or a line
/// longer than it (a watch).
pub(crate) struct BoundedBody {
    inner: Box<DynBody>,
    limit: AnswerLimit,
    watch: bool,
    /// Bytes of the whole answer (a list) or since the last newline (a watch).
    counted: u64,
    what: String,
}

impl http_body::Body for BoundedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            this.counted = match data.iter().rposition(|b| *b == b'\n') {
                Some(last) if this.watch => len - last as u64 - 1,
                _ => this.counted.saturating_add(len),
            };
            if let Err(words) = this.limit.check(this.counted, &this.what) {
                let words = if this.watch {
                    words.replacen("answer larger than", "a watch line longer than", 1)
                } else {
                    words
                };
                return Poll::Ready(Some(Err(words.into())));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
