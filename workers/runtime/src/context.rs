//! [`Ctx`]: everything one request's handler reaches, and the one way it
//! reaches tenant data.
//!
//! A handler of an operation `O` of the catalog is
//! `async fn(ctx: Ctx, request: O::Request) -> Result<O::Reply, Error>`.
//! The context carries the app, the request's metadata (correlation id,
//! client address, trace context), the caller (their verified claims and,
//! read when needed, their current role) and the request's transaction.
//!
//! **The request's transaction.** [`Ctx::tx`] (or [`Ctx::tx_in`] for an
//! operation that names its tenant itself) is the only way a handler reaches
//! tenant data. The runtime begins it on first use, in the caller's tenant
//! (row-level security confines every statement to it; for a platform
//! administrator's operation, the platform scope), and ends it when the
//! handler returns: committed on success, rolled back on a coded error.
//! An idempotent request's stored reply is written in the same transaction
//! ([`crate::idempotency`]), so the change, its events and its reply always
//! share one commit. Never commit it, nor begin another; the one
//! exception, [`Ctx::commit_now`], keeps an order before its payment is
//! authorized.
//!
//! **Events and mail** are recorded on the transaction: [`Tx::emit`] takes
//! the aggregate and the event's data, and the tenant, the actor (the
//! caller) and the correlation id come from the context.
//!
//! **Outside the request's transaction**, two named exceptions, for what
//! must be committed whatever becomes of the request (a login's try at an
//! account, a failed login's count and event, a lockout), or must not hold
//! a connection while it waits on something else (a read before a password
//! is hashed): [`Ctx::apart`] runs work in a short transaction of its own,
//! committed when the work succeeds; [`Ctx::autocommit`] runs one
//! statement that commits by itself (a function that scopes itself, such
//! as the login look-up) and [`Ctx::look_up`] one that only reads. Work left
//! for after the reply ([`Ctx::after_reply`]) uses them too.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use olympus_contracts::event::EventData;
use olympus_contracts::operation::{Operation, Who};
use olympus_contracts::{ContentType, ErrorCode};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

use crate::app::App;
use crate::config::Config;
use crate::db::{self, Db};
use crate::error::Error;
use crate::outbox::{Event, Events, Mailed, NewMail};
use crate::roles::Caller;
use crate::shared_reads::SharedRead;
use crate::tokens::Claims;

/// What came with a request besides its body.
#[derive(Debug, Clone)]
pub struct Request {
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
    /// `Idempotency-Key`, valid, on operations marked I (see
    /// [`crate::idempotency`]).
    pub idempotency_key: Option<String>,
}

/// One request's context (see [the module](self)): cheap to clone, shared
/// by the handler, the runtime and the work left for after the reply.
#[derive(Clone)]
pub struct Ctx(Arc<Inner>);

struct Inner {
    app: App,
    request: Request,
    claims: Option<Claims>,
    /// The caller's current role, when the runtime or the handler read it.
    caller: Mutex<Option<Caller>>,
    scope: tokio::sync::Mutex<Option<Open>>,
    /// An idempotent request's key, held again after [`Ctx::commit_now`].
    relock: Mutex<Option<crate::idempotency::Relock>>,
    /// Work for once the request's transaction has committed.
    on_commit: Mutex<Vec<BoxFuture<'static, ()>>>,
    after_reply: AfterReply,
}

/// Work a request left for after its reply (see [`Ctx::after_reply`]):
/// made by the runtime before the request's context, so that it outlives
/// it.
#[derive(Clone, Default)]
pub(crate) struct AfterReply(Arc<Mutex<Vec<BoxFuture<'static, ()>>>>);

impl AfterReply {
    /// The work left so far.
    pub(crate) fn take(&self) -> Vec<BoxFuture<'static, ()>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("operation", &self.0.request.operation.name)
            .field("correlation_id", &self.0.request.correlation_id)
            .finish_non_exhaustive()
    }
}

/// The request's transaction, once begun, and the tenant it is in.
pub(crate) struct Open {
    pub(crate) tx: db::Tx,
    /// `None` for the platform scope.
    tenant: Option<Uuid>,
}

impl Open {
    /// A transaction begun elsewhere in the runtime (an idempotent
    /// request's) in `tenant`.
    pub(crate) fn in_tenant(tx: db::Tx, tenant: Uuid) -> Self {
        Self {
            tx,
            tenant: Some(tenant),
        }
    }
}

impl Ctx {
    /// The context of a request the runtime accepted: `claims` verified
    /// (bearer operations), `caller` when the operation's role check read it.
    pub(crate) fn new(
        app: App,
        request: Request,
        claims: Option<Claims>,
        caller: Option<Caller>,
        after_reply: AfterReply,
    ) -> Self {
        Self(Arc::new(Inner {
            app,
            request,
            claims,
            caller: Mutex::new(caller),
            scope: tokio::sync::Mutex::new(None),
            relock: Mutex::new(None),
            on_commit: Mutex::new(Vec::new()),
            after_reply,
        }))
    }

    /// The process's shared state: configuration, access tokens,
    /// revocations, extensions. Its database is reached through the
    /// context, never directly.
    pub fn app(&self) -> &App {
        &self.0.app
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.0.app.config()
    }

    /// The current time, from the app's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.0.app.now()
    }

    /// The request's metadata.
    pub fn request(&self) -> &Request {
        &self.0.request
    }

    /// Whom the request counts against where capacity is shared (see
    /// [`crate::fairness`]): the tenant of a bearer request's verified
    /// token; a public request's client address, or anonymous.
    pub fn party(&self) -> crate::fairness::Party {
        match &self.0.claims {
            Some(claims) => crate::fairness::Party::Tenant(claims.tid),
            None => self.0.request.client_ip.clone().map_or(
                crate::fairness::Party::Anonymous,
                crate::fairness::Party::Client,
            ),
        }
    }

    /// The verified claims of a bearer operation's caller.
    pub fn claims(&self) -> Result<&Claims, Error> {
        self.0
            .claims
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::Unauthenticated))
    }

    /// The caller's current role: as the runtime read it for the
    /// operation's role check, or read now.
    pub async fn caller(&self) -> Result<Caller, Error> {
        if let Some(caller) = *self.0.caller.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(caller);
        }
        let caller = crate::roles::current(self.db(), self.claims()?).await?;
        *self.0.caller.lock().unwrap_or_else(|e| e.into_inner()) = Some(caller);
        Ok(caller)
    }

    /// The current role of the holder of `claims`, another token's (as
    /// introspection asks); `unauthenticated` when the user is gone.
    pub async fn current_role(&self, claims: &Claims) -> Result<Caller, Error> {
        crate::roles::current(self.db(), claims).await
    }

    /// Records events and mail for this request: its correlation id and
    /// trace, the caller as the actor (see [`Events::actor`]). [`Tx::emit`]
    /// is the usual way; this, for [`Events::prepare`].
    pub fn events(&self) -> Events<'_> {
        let app = &self.0.app;
        let events = Events::new(
            app.subjects(),
            app.clock(),
            app.config().mail_limit_per_hour,
            &self.0.request.correlation_id,
            self.0.request.traceparent.as_deref(),
        );
        match &self.0.claims {
            Some(claims) => events.actor(claims.sub),
            None => events,
        }
    }

    fn db(&self) -> &Db {
        self.0.app.db()
    }

    /// The request's transaction (see [the module](self)), begun on first
    /// use: in the caller's tenant, or for an operation of platform
    /// administrators, in the platform scope. A public operation names its
    /// tenant with [`Ctx::tx_in`]. Hold it only while using it.
    pub async fn tx(&self) -> Result<Tx<'_>, Error> {
        let scope = if self.0.request.operation.who == Who::PlatformAdmin {
            None
        } else {
            Some(
                self.claims()
                    .map_err(|_| {
                        Error::internal(anyhow::anyhow!(
                            "a public operation's transaction names its tenant (Ctx::tx_in)"
                        ))
                    })?
                    .tid,
            )
        };
        self.open(scope).await
    }

    /// The request's transaction as one consistent, read-only snapshot of
    /// the caller's tenant (`REPEATABLE READ READ ONLY`): for an operation
    /// that answers several reads that must agree (`auth.export_me`).
    /// Call it before anything else begins the request's transaction;
    /// [`Ctx::tx`] then gives the same snapshot.
    pub async fn snapshot(&self) -> Result<Tx<'_>, Error> {
        let tenant = self.claims()?.tid;
        {
            let mut slot = self.0.scope.lock().await;
            if slot.is_some() {
                return Err(Error::internal(anyhow::anyhow!(
                    "a snapshot must begin the request's transaction, which had begun"
                )));
            }
            let tx = self.db().tenant_snapshot(tenant).await?;
            *slot = Some(Open {
                tx,
                tenant: Some(tenant),
            });
        }
        self.open(Some(tenant)).await
    }

    /// The request's transaction in `tenant`, which the request names (a
    /// public operation's tenant, read from a token or a slug; the tenant a
    /// platform administrator acts on). Begun on first use; once begun in
    /// another tenant, `internal`.
    pub async fn tx_in(&self, tenant: Uuid) -> Result<Tx<'_>, Error> {
        self.open(Some(tenant)).await
    }

    async fn open(&self, tenant: Option<Uuid>) -> Result<Tx<'_>, Error> {
        let mut slot = self.0.scope.lock().await;
        match &*slot {
            Some(open) if open.tenant != tenant => {
                return Err(Error::internal(anyhow::anyhow!(
                    "the request's transaction is in another scope ({:?}, not {tenant:?})",
                    open.tenant
                )));
            }
            Some(_) => {}
            None => {
                let tx = match tenant {
                    Some(tenant) => self.db().tenant(tenant).await?,
                    None => self.db().platform().await?,
                };
                *slot = Some(Open { tx, tenant });
            }
        }
        let conn =
            tokio::sync::MutexGuard::try_map(slot, |open| open.as_mut().map(|open| &mut *open.tx))
                .map_err(|_| {
                    Error::internal(anyhow::anyhow!("the request's transaction is gone"))
                })?;
        Ok(Tx {
            conn: Conn::Request(conn),
            tenant,
            events: self.events(),
        })
    }

    /// Takes the request's transaction back, once the handler is done.
    pub(crate) async fn take_tx(&self) -> Option<Open> {
        self.0.scope.lock().await.take()
    }

    /// Puts the request's transaction in place (an idempotent request's,
    /// begun by the runtime).
    pub(crate) async fn put_tx(&self, open: Open) {
        *self.0.scope.lock().await = Some(open);
    }

    /// Puts an idempotent request's key in place, to hold again after
    /// [`Ctx::commit_now`].
    pub(crate) fn set_relock(&self, relock: crate::idempotency::Relock) {
        *self.0.relock.lock().unwrap_or_else(|e| e.into_inner()) = Some(relock);
    }

    /// Commits the request's transaction now, for an operation whose
    /// change must be kept before it calls out (the order of
    /// `carts.checkout`, before its payment is authorized): what follows
    /// runs in a new request transaction, which ends as the request's
    /// always does. An idempotent request holds its key again (waiting
    /// while a retry holds it), and its reply is stored with that second
    /// transaction: a retry between the two commits finds the first part
    /// done, without a stored reply, and must finish the work itself (a
    /// handler that commits early records how to). A failure after this is
    /// `unavailable` with an unknown outcome, never "nothing was made".
    pub async fn commit_now(&self) -> Result<(), Error> {
        let mut slot = self.0.scope.lock().await;
        let Some(open) = slot.take() else {
            return Ok(());
        };
        let tenant = open.tenant;
        db::commit(open.tx).await?;
        let relock = self
            .0
            .relock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let (Some(relock), Some(tenant)) = (relock, tenant) {
            // Committed: a failure now cannot say that nothing was made.
            let mut tx = self
                .db()
                .tenant(tenant)
                .await
                .map_err(Error::outcome_unknown)?;
            relock
                .retake(&mut tx)
                .await
                .map_err(|err| Error::outcome_unknown(anyhow::anyhow!("{}", err.message())))?;
            *slot = Some(Open {
                tx,
                tenant: Some(tenant),
            });
        }
        Ok(())
    }

    /// Runs `work` in a transaction of its own, apart from the request's,
    /// in `tenant` (or in no tenant: it sees no tenant's rows), committed
    /// when `work` succeeds, whatever becomes of the request (see [the
    /// module](self)): for what must be kept when the request fails, or
    /// must not hold a connection while the request waits on something
    /// else.
    pub async fn apart<T>(
        &self,
        tenant: Option<Uuid>,
        work: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut tx = match tenant {
            Some(tenant) => self.db().tenant(tenant).await?,
            None => self.db().unscoped().await?,
        };
        let done = {
            let mut scoped = Tx {
                conn: Conn::Apart(&mut tx),
                tenant,
                events: self.events(),
            };
            work(&mut scoped).await?
        };
        db::commit(tx).await?;
        Ok(done)
    }

    /// Runs one statement that commits by itself (a function that scopes
    /// itself to a tenant, such as the login look-up), on the request
    /// role's pool outside the request's transaction (see [the
    /// module](self)): `statement` gets the pool. Its failure is mapped as a
    /// commit's ([`db::committing`]): when the connection fails before
    /// Postgres answers, the outcome is unknown. Anything that needs a
    /// tenant's rows otherwise goes through [`Ctx::tx`] or [`Ctx::apart`].
    pub async fn autocommit<'s, T, F>(
        &'s self,
        statement: impl FnOnce(&'s PgPool) -> F,
    ) -> Result<T, Error>
    where
        F: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        db::committing(statement(self.db().app_pool())).await
    }

    /// Runs one read-only statement on the request role's pool, outside
    /// the request's transaction (see [the module](self)): a look-up by a
    /// function that scopes itself (a tenant by its slug) before work that
    /// must not hold a connection, such as hashing a password.
    pub async fn look_up<'s, T, F>(
        &'s self,
        statement: impl FnOnce(&'s PgPool) -> F,
    ) -> Result<T, Error>
    where
        F: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        Ok(statement(self.db().app_pool()).await?)
    }

    /// The row `read` finds for `key` in `tenant`, under row-level
    /// security, in a round trip shared with the reads of that kind other
    /// requests wait for (see [`crate::shared_reads`]).
    pub async fn read_shared(
        &self,
        read: &'static SharedRead,
        tenant: Uuid,
        key: Uuid,
    ) -> Result<Option<PgRow>, Error> {
        self.db().read_shared(read, tenant, key).await
    }

    /// Leaves `work` for after the reply: what the caller must not wait
    /// for, nor be able to time (a failed login's event, a reset mail).
    /// The runtime starts it once the reply is on its way, tracked, so that
    /// draining waits for it.
    pub fn after_reply(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        self.0
            .after_reply
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::pin(work));
    }

    /// Leaves `work` for once the request's transaction has committed
    /// (at once after the handler when it had none); never when the request
    /// fails. The reply waits for it.
    pub fn on_commit(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        self.0
            .on_commit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::pin(work));
    }

    /// The work left for once the request's transaction committed.
    pub(crate) fn take_on_commit(&self) -> Vec<BoxFuture<'static, ()>> {
        std::mem::take(&mut *self.0.on_commit.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Once the request's transaction has committed, records the
    /// `sessions` it revoked and tells every other process (see
    /// [`App::announce_revoked`]). Sessions revoked in a transaction apart
    /// (already committed): `ctx.app().announce_revoked(..)`.
    pub fn announce_revoked(&self, sessions: Vec<Uuid>) {
        if sessions.is_empty() {
            return;
        }
        let app = self.0.app.clone();
        self.on_commit(async move { app.announce_revoked(&sessions).await });
    }
}

/// A transaction a handler works in: the request's ([`Ctx::tx`]) or one
/// apart from it ([`Ctx::apart`]). It is a `PgConnection` for statements
/// (`&mut *tx`), and records events and mail in itself.
pub struct Tx<'a> {
    conn: Conn<'a>,
    /// The tenant it is in; `None` for the platform scope or none.
    tenant: Option<Uuid>,
    events: Events<'a>,
}

enum Conn<'a> {
    Request(tokio::sync::MappedMutexGuard<'a, PgConnection>),
    Apart(&'a mut PgConnection),
}

impl Deref for Tx<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match &self.conn {
            Conn::Request(conn) => conn,
            Conn::Apart(conn) => conn,
        }
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match &mut self.conn {
            Conn::Request(conn) => conn,
            Conn::Apart(conn) => conn,
        }
    }
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl<'a> Tx<'a> {
    /// The current time, from the app's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.events.now()
    }

    /// The tenant the transaction is in.
    pub fn tenant(&self) -> Result<Uuid, Error> {
        self.tenant
            .ok_or_else(|| Error::internal(anyhow::anyhow!("a transaction outside any tenant")))
    }

    /// Records the event `data` about `aggregate` (the user, tenant,
    /// order... whose events must stay in order), in this transaction's
    /// tenant, by the caller.
    pub async fn emit<D: EventData>(&mut self, aggregate: Uuid, data: &D) -> Result<Uuid, Error> {
        let event = Event::new(self.tenant()?, aggregate, data);
        let events = self.events.clone();
        events.emit(self, event).await
    }

    /// [`Tx::emit`] with another actor (the user who just logged in or
    /// registered, on a public operation).
    pub async fn emit_by<D: EventData>(
        &mut self,
        actor: Uuid,
        aggregate: Uuid,
        data: &D,
    ) -> Result<Uuid, Error> {
        let event = Event::new(self.tenant()?, aggregate, data);
        let events = self.events.clone().actor(actor);
        events.emit(self, event).await
    }

    /// Makes `actor` the actor of the events recorded from now on (a
    /// public operation's: the user it is about, who holds no token yet).
    pub fn act_as(&mut self, actor: Uuid) {
        self.events = self.events.clone().actor(actor);
    }

    /// Records a mail in this transaction, unless its recipient had the
    /// hourly limit of mails (see [`Events::mail`]).
    pub async fn mail(&mut self, new: NewMail<'_>) -> Result<Mailed, Error> {
        let events = self.events.clone();
        events.mail(self, new).await
    }

    /// The recorder of this transaction's events, for
    /// [`Events::prepare`].
    pub fn events(&self) -> &Events<'a> {
        &self.events
    }
}
