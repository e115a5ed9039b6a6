//! The [`Transport`] trait.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{HttpRequest, HttpResponse, TransportError};

/// Sends one HTTPS `POST` and returns the raw reply.
///
/// Object-safe; use it as `Arc<dyn Transport>`. Implementations must:
///
/// * send exactly one attempt per call — **never retry on their own** (the
///   client owns the retry policy and the bill-number rules);
/// * return every HTTP reply as `Ok`, whatever its status;
/// * classify failures honestly: [`TransportError::NotSent`] only when the
///   request certainly did not reach the server, otherwise
///   [`TransportError::MaybeSent`];
/// * refuse a request with [`client_cert_required`](HttpRequest::client_cert_required)
///   when they have no client certificate, with a `NotSent`
///   [`Config`](crate::ErrorKind::Config) error and without touching the network;
/// * enforce a total timeout, or document that the caller must (a future that
///   never completes would otherwise hang the caller).
///
/// Dropping the returned future cancels the attempt; the request may or may not
/// have been sent by then.
#[async_trait]
pub trait Transport: Send + Sync + Debug {
    /// Sends `request` and returns the reply.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request).await
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request).await
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for &T {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[derive(Debug)]
    struct Echo;

    #[async_trait]
    impl Transport for Echo {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
            if request.url.is_empty() {
                return Err(TransportError::not_sent(ErrorKind::Config, "empty URL"));
            }
            Ok(HttpResponse::new(200, request.body))
        }
    }

    async fn via_generic<T: Transport>(t: T) -> u16 {
        t.send(HttpRequest::new("https://x", "b"))
            .await
            .map(|r| r.status)
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn smart_pointers_and_references_are_transports() {
        let arc: Arc<dyn Transport> = Arc::new(Echo);
        let boxed: Box<dyn Transport> = Box::new(Echo);
        assert_eq!(via_generic(Arc::clone(&arc)).await, 200);
        assert_eq!(via_generic(boxed).await, 200);
        assert_eq!(via_generic(&Echo).await, 200);
        assert_eq!(via_generic(&*arc).await, 200);
        let err = arc.send(HttpRequest::new("", "")).await.err();
        assert!(err.is_some_and(|e| !e.may_have_been_sent()));
    }
}
