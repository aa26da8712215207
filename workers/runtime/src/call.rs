//! [`Call`]: a decoded request and what came with it.

use futures::future::BoxFuture;
use olympus_contracts::operation::Operation;
use olympus_contracts::{ContentType, ErrorCode};
use sqlx::PgConnection;
use std::sync::{Arc, Mutex};

use crate::app::App;
use crate::db::Tx;
use crate::error::Error;
use crate::tokens::Claims;

/// What a handler receives: the decoded request and its metadata.
#[derive(Debug)]
pub struct Call<T> {
    pub body: T,
    pub meta: Meta,
}

/// Everything about a request except its body.
#[derive(Debug, Clone)]
pub struct Meta {
    pub operation: Operation,
    /// From `X-Correlation-Id`, or a fresh UUIDv7.
    pub correlation_id: String,
    pub content_type: ContentType,
    /// `X-Client-Ip`, as the gateway saw it: only a valid IPv4 or IPv6
    /// address, normalized (see [`crate::bounds::client_ip`]).
    pub client_ip: Option<String>,
    /// `User-Agent` of the end user, at most 512 bytes, no control characters.
    pub user_agent: Option<String>,
    /// A valid W3C `traceparent`, carried into events.
    pub traceparent: Option<String>,
    /// Verified claims; always present on bearer operations.
    pub claims: Option<Claims>,
    /// The caller's current role, when the operation needed more than
    /// membership (see [`crate::roles`]).
    pub caller: Option<crate::roles::Caller>,
    /// `Idempotency-Key`, valid, on operations marked I (see
    /// [`crate::idempotency`]).
    pub idempotency_key: Option<String>,
    /// The request's transaction (see [`Meta::tx`]).
    pub scope: Scope,
    /// Work to start once the reply is sent.
    pub after_reply: AfterReply,
}

/// The transaction of one request, when it has one: opened by the runtime
/// for an idempotent request, or by the handler's first [`Meta::tx`].
#[derive(Clone, Default)]
pub struct Scope(Arc<tokio::sync::Mutex<Option<Tx>>>);

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scope")
    }
}

impl Scope {
    /// Puts the request's transaction in place.
    pub(crate) async fn put(&self, tx: Tx) {
        *self.0.lock().await = Some(tx);
    }

    /// Takes the request's transaction back, once the handler is done.
    pub(crate) async fn take(&self) -> Option<Tx> {
        self.0.lock().await.take()
    }
}

/// Work a handler leaves for after its reply: what the caller must not
/// wait for, nor be able to time (a failed login's event, a reset mail).
/// The runtime starts it once the reply is on its way, tracked, so that
/// draining waits for it.
#[derive(Clone, Default)]
pub struct AfterReply(Arc<Mutex<Vec<BoxFuture<'static, ()>>>>);

impl std::fmt::Debug for AfterReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterReply")
    }
}

impl AfterReply {
    /// Leaves `work` for after the reply.
    pub fn push(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::pin(work));
    }

    /// The work left so far.
    pub(crate) fn take(&self) -> Vec<BoxFuture<'static, ()>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Meta {
    /// The request's transaction, in the caller's tenant: the one the
    /// runtime opened (an idempotent request's, where the stored reply
    /// commits with the change), or a new one on first use. The runtime
    /// commits it when the handler succeeds and rolls it back when it
    /// fails: never commit it yourself. Hold the guard only while using it.
    pub async fn tx(
        &self,
        app: &App,
    ) -> Result<tokio::sync::MappedMutexGuard<'_, PgConnection>, Error> {
        let mut slot = self.scope.0.lock().await;
        if slot.is_none() {
            *slot = Some(app.db().tenant(self.claims()?.tid).await?);
        }
        tokio::sync::MutexGuard::try_map(slot, |tx| tx.as_deref_mut())
            .map_err(|_| Error::internal(anyhow::anyhow!("the request's transaction is gone")))
    }

    /// The verified claims of a bearer operation.
    pub fn claims(&self) -> Result<&Claims, Error> {
        self.claims
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::Unauthenticated))
    }
}
