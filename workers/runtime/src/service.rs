//! Workers as NATS micro services, and the life of one request.
//!
//! A [`Worker`] is a micro service (`olympus-auth`, ...) with one
//! [`Endpoint`] per operation on `{prefix}.{service}.v1.{operation}`, in the
//! queue group `q`, so any number of processes share the load and
//! `$SRV.PING/INFO/STATS` find them.
//!
//! Before anything else, in the endpoint's loop: a request whose reply
//! subject is not an allowed inbox (see [`crate::bounds`]) is dropped
//! unanswered, logged and counted (`dropped_reply_subjects` in the
//! endpoint's `$SRV.STATS` data), so no caller can make a worker publish
//! anywhere else. The micro library's own `$SRV.PING/INFO/STATS` requests
//! are held to the same check (dropped and logged) by a filter it calls
//! before answering (our patch of it: vendor/async-nats/PATCHED.md). An
//! operation may hold at most half of the process's in-flight permits,
//! shared fairly among the tenants asking ([`crate::fairness`]); beyond
//! that the requests of a tenant above its share are answered at once
//! with `unavailable` (counted as `shed`), so one flooded operation cannot
//! starve the others, nor one tenant's flood another tenant.
//!
//! Every other request, in its own task and its own `request` span:
//! 1. headers the NATS client could not parse (bytes that are not NATS
//!    headers, which the patched client delivers without them instead of
//!    dropping its connection): `bad_request` (400);
//! 2. correlation id from `X-Correlation-Id` (or a new UUIDv7);
//! 3. `Content-Type` (415), header size (400), payload size (413);
//! 4. on bearer operations, the access token and its session (401), and
//!    the caller's current role when the operation needs more than
//!    membership (403, see [`crate::roles`]);
//! 5. decoding, strict (400), then the handler;
//! 6. exactly one reply: the encoded result, or the error reply with both
//!    `Nats-Service-Error*` headers and the coded body.
//!
//! Steps 3 to 5, and the commit after them, wait on Postgres for at most
//! [`crate::deadline::DATABASE_TIME`] in all while Postgres is silent;
//! past it the request is answered `unavailable` (see [`crate::deadline`]).
//!
//! async-nats's `Request::respond(Err(..))` counts the error in the
//! service's stats but sends an empty body. So error replies are published
//! here, headers and body, to the request's reply subject; then the request's
//! reply subject is blanked and `respond(Err(..))` is called: it records
//! `num_errors`/`last_error`, and its own publish fails locally (an empty
//! subject is always refused by the client), so nothing else reaches the
//! wire.

use anyhow::Context;
use async_nats::service::{self, ServiceExt};
use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use olympus_contracts::codec::MAX_REQUEST_BYTES;
use olympus_contracts::operation::{Access, Op, Operation, Service};
use olympus_contracts::{headers, ContentType, ErrorBody, ErrorCode};
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

use crate::fairness::{Admission, Party};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{field, Instrument};
use uuid::Uuid;

use crate::app::App;
use crate::bounds;
use crate::context::{AfterReply, Ctx, Open, Request};
use crate::error::Error;
use crate::idempotency;
use crate::metrics::OperationMetrics;

/// How long after a reply the work it left begins.
const AFTER_REPLY_DELAY: Duration = Duration::from_millis(5);

/// The queue group every endpoint joins.
pub const QUEUE_GROUP: &str = "q";

type Handler = dyn Fn(Ctx, Bytes) -> BoxFuture<'static, Result<Vec<u8>, Error>> + Send + Sync;

/// One operation and the function that answers it.
pub struct Endpoint {
    operation: Operation,
    handler: Box<Handler>,
}

impl Endpoint {
    /// The operation it answers.
    pub fn operation(&self) -> Operation {
        self.operation
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

/// Makes the endpoint of the operation `O` (declared in the catalog,
/// `olympus_contracts::operation`), answered by `handler`, which takes
/// exactly `O`'s request and answers exactly its reply: the runtime decodes
/// the request strictly from the request's content type and encodes the
/// reply. The handler works in the request's transaction
/// ([`crate::context::Ctx::tx`]), which the runtime commits when it
/// succeeds, with the stored reply of an idempotent request (see
/// [`crate::idempotency`]), and rolls back when it fails.
pub fn endpoint<O, F, Fut>(_operation: O, handler: F) -> Endpoint
where
    O: Op,
    F: Fn(Ctx, O::Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O::Reply, Error>> + Send + 'static,
{
    let handler = Arc::new(handler);
    Endpoint {
        operation: O::OPERATION,
        handler: Box::new(move |ctx, payload| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let content_type = ctx.request().content_type;
                let body: O::Request = content_type.decode(&payload).map_err(Error::bad_request)?;
                let claim = match ctx.request().idempotency_key.as_deref() {
                    Some(key) => {
                        let claims = ctx.claims()?;
                        let key = idempotency::Key {
                            tenant_id: claims.tid,
                            caller_id: claims.sub,
                            operation: O::OPERATION,
                            key,
                        };
                        let fingerprint = idempotency::fingerprint(&body)?;
                        match idempotency::begin(ctx.app().db(), ctx.now(), key, fingerprint)
                            .await?
                        {
                            idempotency::Begun::Stored(reply) => {
                                return content_type.encode(&reply?).map_err(Error::internal);
                            }
                            idempotency::Begun::Fresh(claim, tx) => {
                                ctx.put_tx(Open::in_tenant(tx, claims.tid)).await;
                                ctx.set_relock(claim.relock());
                                Some(claim)
                            }
                        }
                    }
                    None => None,
                };
                let outcome = handler(ctx.clone(), body).await;
                let tx = ctx.take_tx().await.map(|open| open.tx);
                let reply = match claim {
                    Some(claim) => {
                        let outcome = outcome
                            .and_then(|rep| serde_json::to_value(&rep).map_err(Error::internal));
                        claim.finish(ctx.now(), tx, outcome, content_type).await?
                    }
                    None => {
                        let reply = content_type.encode(&outcome?).map_err(Error::internal)?;
                        if let Some(tx) = tx {
                            crate::db::commit(tx).await?;
                        }
                        reply
                    }
                };
                for work in ctx.take_on_commit() {
                    work.await;
                }
                Ok(reply)
            })
        }),
    }
}

/// A worker: one NATS micro service.
#[derive(Debug)]
pub struct Worker {
    pub service: Service,
    /// The worker crate's semver, reported by `$SRV.INFO`.
    pub version: &'static str,
    pub description: &'static str,
    pub endpoints: Vec<Endpoint>,
    /// Run once before the process takes requests (the auth worker makes
    /// its first signing key and opens the active one); an error stops
    /// the start.
    pub prepare: Option<Prepare>,
}

/// A worker's preparation (see [`Worker::prepare`]).
pub type Prepare = fn(App) -> futures::future::BoxFuture<'static, anyhow::Result<()>>;

/// Workers that are taking requests.
#[derive(Debug)]
pub struct Running {
    app: App,
    services: Vec<service::Service>,
    loops: TaskTracker,
    in_flight: TaskTracker,
    revocations: (CancellationToken, tokio::task::JoinHandle<()>),
}

/// What an endpoint refused before running its handler, reported in the
/// `data` of its `$SRV.STATS` entry.
#[derive(Debug, Default)]
struct Refusals {
    /// Requests dropped unanswered for their reply subject.
    dropped_reply_subjects: AtomicU64,
    /// Requests answered `unavailable` because the operation held its share
    /// of the in-flight permits.
    shed: AtomicU64,
}

/// Starts the workers' micro services and their request loops, with
/// revocations read as `sources` say (the auth and tenant workers' tables,
/// whichever workers this process runs: every one checks bearer tokens).
pub async fn start(
    app: &App,
    workers: Vec<Worker>,
    sources: crate::revocation::Sources,
) -> anyhow::Result<Running> {
    for prepare in workers.iter().filter_map(|w| w.prepare) {
        prepare(app.clone()).await?;
    }
    // No bearer request is taken before this process knows what is revoked
    // and which keys verify.
    app.revocations()
        .sync(&sources, (app.db().pool(), app.tokens()), app.now())
        .await
        .context("reading revoked sessions at start")?;
    let stop_revocations = CancellationToken::new();
    let revocations = tokio::spawn(crate::revocation::run(
        crate::revocation::Watch {
            revocations: Arc::clone(app.revocations()),
            tokens: app.tokens().clone(),
            sources,
            pool: app.db().pool().clone(),
            nats: app.nats().clone(),
            subject: app.subjects().internal("revocations"),
            clock: app.shared_clock(),
        },
        stop_revocations.clone(),
    ));
    // Whether Postgres answers, for the requests' deadline; stops with the
    // revocation loop.
    app.db().probe(stop_revocations.clone());
    let loops = TaskTracker::new();
    let in_flight = TaskTracker::new();
    let max_in_flight = app.config().max_in_flight.max(1);
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let rates = Arc::clone(app.revocations().rates());
    let mut services = Vec::with_capacity(workers.len());
    for worker in workers {
        let name = worker.service.micro_name();
        let metadata = HashMap::from([(
            "subject_prefix".to_owned(),
            app.subjects().prefix().to_owned(),
        )]);
        let refusals: HashMap<String, Arc<Refusals>> = worker
            .endpoints
            .iter()
            .map(|e| (endpoint_name(e.operation), Arc::default()))
            .collect();
        let stats_refusals = refusals.clone();
        let prefixes = app.reply_prefixes().clone();
        let service = app
            .nats()
            .service_builder()
            .description(worker.description)
            .metadata(metadata)
            .queue_group(QUEUE_GROUP)
            .verb_filter(move |request| {
                let answered = replies_allowed(&prefixes, request);
                if !answered {
                    tracing::warn!(
                        subject = %request.subject,
                        reply_subject = %loggable(request.reply.as_deref()),
                        malformed = request.malformed(),
                        "dropped a $SRV request: its reply subject is not an allowed inbox"
                    );
                }
                answered
            })
            .stats_handler(move |endpoint, _| {
                let refused = stats_refusals.get(&endpoint);
                let count = |f: fn(&Refusals) -> &AtomicU64| {
                    refused.map_or(0, |r| f(r).load(Ordering::Relaxed))
                };
                serde_json::json!({
                    "dropped_reply_subjects": count(|r| &r.dropped_reply_subjects),
                    "shed": count(|r| &r.shed),
                })
            })
            .start(name, worker.version)
            .await
            .map_err(|e| anyhow::anyhow!("starting micro service {name}: {e}"))?;
        let group = service.group(app.subjects().service_group(worker.service));
        for endpoint in worker.endpoints {
            let operation = endpoint.operation;
            let name = endpoint_name(operation);
            let requests = group
                .endpoint_builder()
                .name(&name)
                .add(operation.name)
                .await
                .map_err(|e| anyhow::anyhow!("adding endpoint {}: {e}", operation.name))?;
            let fair = crate::fairness::Fair::new(
                max_in_flight / 2,
                max_in_flight / 128,
                Arc::clone(&rates),
            );
            app.metrics().watch(&fair);
            loops.spawn(request_loop(
                app.clone(),
                Arc::new(endpoint),
                requests,
                Limits {
                    in_flight: in_flight.clone(),
                    permits: Arc::clone(&permits),
                    fair,
                    refusals: refusals.get(&name).cloned().unwrap_or_default(),
                    metrics: app.metrics().of(operation),
                },
            ));
        }
        services.push(service);
    }
    // Only when the server has processed the subscriptions may anyone be
    // told that the workers are ready.
    round_trip(app.nats()).await?;
    Ok(Running {
        app: app.clone(),
        services,
        loops,
        in_flight,
        revocations: (stop_revocations, revocations),
    })
}

/// Endpoint names are tokens; the subject keeps its dots.
fn endpoint_name(operation: Operation) -> String {
    operation.name.replace('.', "_")
}

impl Running {
    /// Stops taking requests, answers those already received, waits up to
    /// `timeout` for the ones in flight, and flushes the replies.
    pub async fn drain(self, timeout: Duration) {
        for service in self.services {
            // Unsubscribes every endpoint; their streams end once the
            // requests already delivered have been taken.
            let _ = service.stop().await;
        }
        self.loops.close();
        self.in_flight.close();
        let finished = async {
            // Loops end once their buffered requests are taken, and no
            // request is spawned after that; then the requests finish, then
            // the work they left for after their replies.
            self.loops.wait().await;
            self.in_flight.wait().await;
            self.app.background().close();
            self.app.background().wait().await;
        };
        if tokio::time::timeout(timeout, finished).await.is_err() {
            tracing::warn!(
                in_flight = self.in_flight.len(),
                background = self.app.background().len(),
                "shutdown timeout: abandoning work still in flight"
            );
        }
        self.revocations.0.cancel();
        let _ = self.revocations.1.await;
        if let Err(err) = self.app.nats().flush().await {
            tracing::warn!(error = %err, "flushing the last replies failed");
        }
    }
}

/// Returns once the server has processed everything this client sent so
/// far. (`flush` only writes to the socket.) The server handles one
/// connection's messages in order, so a message to ourselves coming back
/// means every earlier `SUB` is in place.
async fn round_trip(nats: &async_nats::Client) -> anyhow::Result<()> {
    let inbox = nats.new_inbox();
    let mut echo = nats
        .subscribe(inbox.clone())
        .await
        .context("subscribing to NATS")?;
    nats.publish(inbox, Bytes::new())
        .await
        .context("publishing to NATS")?;
    tokio::time::timeout(Duration::from_secs(10), echo.next())
        .await
        .context("NATS did not confirm the subscriptions within 10 s")?;
    Ok(())
}

/// What bounds one endpoint's requests.
struct Limits {
    in_flight: TaskTracker,
    /// The process's in-flight permits.
    permits: Arc<Semaphore>,
    /// This operation's share of them, shared fairly by the parties
    /// asking (see [`crate::fairness`]).
    fair: Arc<crate::fairness::Fair>,
    refusals: Arc<Refusals>,
    /// Its counters (see [`crate::metrics`]).
    metrics: Arc<OperationMetrics>,
}

async fn request_loop(
    app: App,
    endpoint: Arc<Endpoint>,
    mut requests: service::endpoint::Endpoint,
    limits: Limits,
) {
    while let Some(request) = requests.next().await {
        let message = &request.message;
        if !replies_allowed(app.reply_prefixes(), message) {
            let dropped = limits
                .refusals
                .dropped_reply_subjects
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            tracing::warn!(
                subject = %message.subject,
                reply_subject = %loggable(message.reply.as_deref()),
                malformed = message.malformed(),
                dropped,
                "dropped a request: its reply subject is not an allowed inbox"
            );
            continue;
        }
        let token = header(message, headers::AUTHORIZATION).and_then(crate::auth::bearer_token);
        let party = Party::of(
            endpoint.operation.access() == Access::Bearer,
            token,
            header(message, headers::CLIENT_IP),
            |token| app.tokens().remembered_tenant(token),
        );
        let admission = limits.fair.admit(party);
        // A malformed request is answered `bad_request` all the same.
        if admission.is_shed() && message.malformed().is_none() {
            limits.refusals.shed.fetch_add(1, Ordering::Relaxed);
        }
        let app = app.clone();
        let endpoint = Arc::clone(&endpoint);
        let metrics = Arc::clone(&limits.metrics);
        let permits = Arc::clone(&limits.permits);
        let arrived = Instant::now();
        limits.in_flight.spawn(async move {
            let limited = match admission {
                Admission::Limited(after) => Some(after),
                _ => None,
            };
            // Its party's turn, then one of the process's permits.
            let admitted = admission.ready().await;
            let global = match admitted {
                Some(_) => permits.acquire_owned().await.ok(),
                None => None,
            };
            let refused = match (limited, global.is_some()) {
                (Some(after), _) => Some(
                    Error::new(ErrorCode::RateLimited)
                        .with_message("the tenant's request rate is spent; retry later")
                        .with_detail("retry_after_secs", after),
                ),
                (None, true) => None,
                (None, false) => Some(Error::overloaded()),
            };
            handle(app, &endpoint, &metrics, request, (arrived, refused)).await;
            drop((admitted, global));
        });
    }
}

/// Whether a worker may answer `message`: it has a reply subject, and that
/// is an allowed inbox. (One the NATS client could not read as UTF-8 is
/// none: see [`async_nats::Message::malformed`].)
fn replies_allowed(prefixes: &bounds::ReplyPrefixes, message: &async_nats::Message) -> bool {
    message
        .reply
        .as_deref()
        .is_some_and(|reply| prefixes.allows(reply))
}

/// A caller's reply subject for a log line: cut to 80 characters, control
/// characters escaped (NATS keeps spaces, tabs and line ends out of a
/// subject, but forwards any other byte).
fn loggable(reply: Option<&str>) -> String {
    reply
        .unwrap_or("")
        .chars()
        .take(80)
        .flat_map(char::escape_debug)
        .collect()
}

fn header<'a>(message: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str())
}

/// A W3C trace context `version-traceid-parentid-flags` in lowercase hex,
/// ids not all zero; anything else is ignored, as the W3C spec asks.
pub fn is_valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    matches!(parts.as_slice(), [version, trace, parent, flags]
        if hex(version, 2) && *version != "ff"
            && hex(trace, 32) && nonzero(trace)
            && hex(parent, 16) && nonzero(parent)
            && hex(flags, 2))
}

/// 1-128 characters of `[A-Za-z0-9._:-]`.
pub fn is_valid_correlation_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Answers one request, which arrived when `started` says (its wait for
/// its party's turn counts in its latency); when it was not `admitted`
/// (its party holds its share of the operation's capacity), with
/// `unavailable` at once.
async fn handle(
    app: App,
    endpoint: &Endpoint,
    metrics: &OperationMetrics,
    mut request: service::Request,
    (started, mut refused): (Instant, Option<Error>),
) {
    let message = request.message.clone();
    let message = &message;
    let correlation_id = header(message, headers::CORRELATION_ID)
        .filter(|v| is_valid_correlation_id(v))
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    let traceparent = header(message, headers::TRACEPARENT).filter(|v| is_valid_traceparent(v));
    let trace_id = traceparent.map(|v| &v[3..35]);
    let span = tracing::info_span!(
        "request",
        subject = %message.subject,
        correlation_id = %correlation_id,
        trace_id,
        status = field::Empty,
        latency_ms = field::Empty,
    );
    let after_reply = AfterReply::default();
    async {
        let content_type = ContentType::from_header(header(message, headers::CONTENT_TYPE));
        let outcome = match content_type {
            // No retry can fix it, so it is not shed.
            _ if message.malformed().is_some() => Err(Error::new(ErrorCode::BadRequest)
                .with_message("the request headers are not valid NATS headers")),
            _ if refused.is_some() => {
                // Held a moment before it is answered: a caller that
                // ignores `retry_after_secs` and sends again at once would
                // otherwise churn through the worker's one queue of
                // requests, ahead of every other tenant's (see
                // [`crate::fairness`]).
                tokio::time::sleep(crate::fairness::SHED_DELAY).await;
                Err(refused.take().unwrap_or_else(Error::overloaded))
            }
            None => Err(Error::new(ErrorCode::UnsupportedMediaType)),
            Some(content_type) => {
                crate::deadline::bound(
                    app.db().liveness(),
                    process(
                        &app,
                        endpoint,
                        message,
                        content_type,
                        (&correlation_id, traceparent),
                        &after_reply,
                    ),
                )
                .await
            }
        };
        // An unsupported type is answered in MessagePack, the default.
        let reply_type = content_type.unwrap_or_default();
        let status = match &outcome {
            Ok(_) => 200,
            Err(err) => err.code().status(),
        };
        metrics.record(
            started.elapsed(),
            outcome.as_ref().err().map(|e| e.code().as_str()),
        );
        let span = tracing::Span::current();
        span.record("status", status);
        span.record(
            "latency_ms",
            (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        );
        match &outcome {
            Ok(_) => tracing::info!("ok"),
            Err(err) if status >= 500 => {
                let cause = err.source().map(|s| format!("{s:#}"));
                tracing::error!(code = %err.code(), cause = cause.as_deref(), "failed");
            }
            Err(err) => tracing::info!(code = %err.code(), reason = err.message(), "refused"),
        }
        if let Err(err) = reply(&app, &mut request, reply_type, &correlation_id, outcome).await {
            tracing::warn!(error = %err, "could not send the reply");
        }
        // Started once the reply has had time to reach the caller, so that
        // it does not compete with the reply's way out.
        let after_reply = after_reply.take();
        if !after_reply.is_empty() {
            app.background().spawn(
                async move {
                    tokio::time::sleep(AFTER_REPLY_DELAY).await;
                    for work in after_reply {
                        work.await;
                    }
                }
                .instrument(tracing::Span::current()),
            );
        }
    }
    .instrument(span)
    .await;
}

async fn process(
    app: &App,
    endpoint: &Endpoint,
    message: &async_nats::Message,
    content_type: ContentType,
    (correlation_id, traceparent): (&str, Option<&str>),
    after_reply: &AfterReply,
) -> Result<Vec<u8>, Error> {
    if bounds::header_bytes(message.headers.as_ref()) > bounds::MAX_HEADER_BYTES {
        return Err(Error::new(ErrorCode::BadRequest).with_message(format!(
            "the request headers exceed {} KiB",
            bounds::MAX_HEADER_BYTES / 1024
        )));
    }
    if message.payload.len() > MAX_REQUEST_BYTES {
        return Err(Error::new(ErrorCode::PayloadTooLarge));
    }
    let (claims, caller) = match endpoint.operation.access() {
        Access::Public => (None, None),
        Access::Bearer => {
            let claims = crate::auth::authenticate(
                (app.tokens(), app.revocations()),
                app.now(),
                header(message, headers::AUTHORIZATION),
            )?;
            crate::roles::second_factor(app.revocations(), &endpoint.operation, &claims)?;
            let caller = crate::roles::check(app.db(), endpoint.operation.who, &claims).await?;
            (Some(claims), caller)
        }
    };
    let idempotency_key = match header(message, headers::IDEMPOTENCY_KEY) {
        Some(key) if endpoint.operation.idempotent => {
            if !idempotency::is_valid_key(key) {
                return Err(Error::new(ErrorCode::BadRequest)
                    .with_message("Idempotency-Key must be 1 to 255 printable ASCII characters")
                    .with_detail("field", headers::IDEMPOTENCY_KEY));
            }
            Some(key.to_owned())
        }
        // Operations not marked I ignore it (contract §1).
        _ => None,
    };
    let request = Request {
        operation: endpoint.operation,
        correlation_id: correlation_id.to_owned(),
        content_type,
        client_ip: bounds::client_ip(header(message, headers::CLIENT_IP)),
        user_agent: bounds::user_agent(header(message, headers::USER_AGENT)),
        traceparent: traceparent.map(str::to_owned),
        idempotency_key,
    };
    let ctx = Ctx::new(app.clone(), request, claims, caller, after_reply.clone());
    let work = (endpoint.handler)(ctx, message.payload.clone());
    // A bug in one handler must cost one `internal` reply, not the worker.
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result,
        Err(_) => Err(Error::internal(anyhow::anyhow!("the handler panicked"))),
    }
}

async fn reply(
    app: &App,
    request: &mut service::Request,
    content_type: ContentType,
    correlation_id: &str,
    outcome: Result<Vec<u8>, Error>,
) -> anyhow::Result<()> {
    let mut reply_headers = HeaderMap::new();
    reply_headers.insert(headers::CONTENT_TYPE, content_type.as_str());
    reply_headers.insert(headers::CORRELATION_ID, correlation_id);
    let err = match outcome {
        Ok(body) => {
            request
                .respond_with_headers(Ok(body.into()), reply_headers)
                .await?;
            return Ok(());
        }
        Err(err) => err,
    };
    let body = ErrorBody {
        code: err.code(),
        message: err.message().to_owned(),
        details: err.details().cloned(),
        correlation_id: correlation_id.to_owned(),
    };
    let body = content_type.encode(&body)?;
    let status = err.code().status();
    let short = header_safe(err.message());
    reply_headers.insert(headers::SERVICE_ERROR_CODE, status.to_string());
    reply_headers.insert(headers::SERVICE_ERROR, short.clone());
    if let Some(reply_to) = request.message.reply.clone() {
        app.nats()
            .publish_with_headers(reply_to, reply_headers, body.into())
            .await?;
    }
    // Count the error in $SRV.STATS without sending a second message (see
    // the module documentation).
    request.message.reply = Some(Subject::from(""));
    let _ = request
        .respond(Err(service::error::Error {
            status: short,
            code: usize::from(status),
        }))
        .await;
    Ok(())
}

/// Header values are one line; long messages are cut.
fn header_safe(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_follow_the_contract() {
        assert!(is_valid_correlation_id("req-1.2_3:4"));
        assert!(is_valid_correlation_id(&"a".repeat(128)));
        assert!(!is_valid_correlation_id(""));
        assert!(!is_valid_correlation_id(&"a".repeat(129)));
        assert!(!is_valid_correlation_id("has space"));
        assert!(!is_valid_correlation_id("newline\n"));
    }

    #[test]
    fn traceparents_follow_the_w3c_format() {
        assert!(is_valid_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(!is_valid_traceparent(bad), "{bad}");
        }
    }

    #[test]
    fn reply_subjects_are_logged_short_and_escaped() {
        assert_eq!(loggable(None), "");
        assert_eq!(
            loggable(Some("_INBOX.a\u{1b}[31m\u{c}")),
            "_INBOX.a\\u{1b}[31m\\u{c}"
        );
        assert_eq!(loggable(Some(&"x".repeat(500))).len(), 80);
    }

    #[test]
    fn header_values_stay_on_one_line() {
        assert_eq!(header_safe("a\r\nb"), "a  b");
        assert_eq!(header_safe(&"x".repeat(500)).len(), 200);
    }
}
