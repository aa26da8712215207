//! Idempotency keys (contract §6), for every operation the catalog marks I.
//!
//! A request with an `Idempotency-Key` runs at most once per (tenant,
//! caller, operation, key) for 24 hours, the caller being the access
//! token's user: a stored reply goes back only to the caller whose request
//! made it, never to another member of the tenant who sends the same key
//! (contract revision 3). Keys stored before revision 3 name no caller and
//! answer any retry `idempotency_key_reused` until they expire. The
//! runtime, before the handler:
//! 1. opens the request's tenant transaction and takes a transaction-level
//!    advisory lock on the key without waiting: when another request holds
//!    it, the first is still running, and this one gets
//!    `idempotency_key_in_use`;
//! 2. looks for a stored reply of the last 24 hours: one with another
//!    request's fingerprint (SHA-256 of the decoded request, so encoding,
//!    field order and spacing do not matter) is `idempotency_key_reused`;
//!    one with the same is the reply, encoded in this request's content type;
//! 3. otherwise takes a savepoint and hands the transaction to the handler
//!    (`crate::context::Ctx::tx`).
//!
//! After the handler, in the same transaction: a success is stored and
//! committed with the change, so neither exists without the other. A coded
//! error rolls the handler's work back to the savepoint and is stored the
//! same way. Errors that say "try again" (`rate_limited`, `unavailable`,
//! `internal`) are not stored: nothing happened, and a retry runs afresh. A
//! process that dies mid-request holds no lock (Postgres drops it with the
//! connection) and stored nothing, so the retry runs. The relay prunes keys
//! older than a day.

use olympus_contracts::{ContentType, ErrorCode};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use chrono::{DateTime, Utc};
use olympus_contracts::operation::Operation;

use crate::db::{Db, Tx};
use crate::error::Error;

/// How long a key holds.
pub const TTL_HOURS: i64 = 24;

/// The longest key (contract §1).
pub const MAX_KEY_LEN: usize = 255;

/// Whether a key is 1-255 printable ASCII characters.
pub fn is_valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

const SAVEPOINT: &str = "olympus_idempotent_handler";

/// Whose key, for which operation.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    pub tenant_id: Uuid,
    /// The access token's user.
    pub caller_id: Uuid,
    pub operation: Operation,
    pub key: &'a str,
}

/// A key this request holds, in its transaction.
#[derive(Debug)]
pub struct Claim {
    /// The key, which this request holds.
    held: Relock,
    fingerprint: Vec<u8>,
}

/// What looking a key up found.
#[derive(Debug)]
pub enum Begun {
    /// The reply stored by the first request.
    Stored(Result<Value, Error>),
    /// Nothing: the handler runs, in this transaction (the key locked, a
    /// savepoint taken), which becomes the request's.
    Fresh(Claim, Tx),
}

/// The fingerprint of a decoded request: the SHA-256 of its JSON form.
pub fn fingerprint<Req: Serialize>(request: &Req) -> Result<Vec<u8>, Error> {
    let json = serde_json::to_vec(request).map_err(Error::internal)?;
    Ok(Sha256::digest(json).to_vec())
}

/// Starts an idempotent request (see [the module](self)) with `key` and
/// the request's `fingerprint` (see [`fingerprint`]), at `now`.
pub async fn begin(
    db: &Db,
    now: DateTime<Utc>,
    key: Key<'_>,
    fingerprint: Vec<u8>,
) -> Result<Begun, Error> {
    let Key {
        tenant_id,
        caller_id,
        operation,
        key,
    } = key;
    let key = key.to_owned();
    let operation = format!("{}.{}", operation.service.as_str(), operation.name);
    let mut tx = db.tenant(tenant_id).await?;
    let held = Relock {
        tenant_id,
        caller_id,
        operation,
        key,
    };
    if !held.lock(&mut tx, false).await? {
        return Err(Error::new(ErrorCode::IdempotencyKeyInUse).with_detail("retry_after_secs", 1));
    }
    // A statement of its own, after the lock: its snapshot is taken once the
    // lock is held. Read in the lock's statement, it would miss the outcome
    // of a first request that committed (and so let go of the lock) between
    // that statement's start and the lock, and the handler would run twice.
    // The caller's own key, or one stored before keys had callers (NULL,
    // found first): whose that was, nobody knows, so it answers no one.
    let stored: Option<StoredOutcome> = sqlx::query_as(
        "SELECT caller_id, fingerprint, status, reply FROM idempotency_keys
          WHERE operation = $1 AND key = $2 AND (caller_id = $3 OR caller_id IS NULL)
            AND created_at > $4::timestamptz - make_interval(hours => $5)
          ORDER BY caller_id NULLS FIRST LIMIT 1",
    )
    .bind(&held.operation)
    .bind(&held.key)
    .bind(caller_id)
    .bind(now)
    .bind(TTL_HOURS as i32)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(StoredOutcome {
        caller_id: stored_caller,
        fingerprint: stored_fingerprint,
        status,
        reply,
    }) = stored
    {
        crate::db::commit(tx).await?;
        if stored_caller.is_none() {
            return Err(Error::new(ErrorCode::IdempotencyKeyReused)
                .with_message("this key was stored before keys were per caller: use another key"));
        }
        if stored_fingerprint != fingerprint {
            return Err(Error::new(ErrorCode::IdempotencyKeyReused));
        }
        tracing::info!(status, "idempotent retry: the stored reply");
        return Ok(Begun::Stored(if status == 200 {
            Ok(reply)
        } else {
            Err(stored_error(reply)?)
        }));
    }
    sqlx::query(&format!("SAVEPOINT {SAVEPOINT}"))
        .execute(&mut *tx)
        .await?;
    Ok(Begun::Fresh(Claim { held, fingerprint }, tx))
}

/// A claimed key, to take again in a later transaction of the same request
/// (see [`crate::context::Ctx::commit_now`]).
#[derive(Debug, Clone)]
pub(crate) struct Relock {
    tenant_id: Uuid,
    caller_id: Uuid,
    operation: String,
    key: String,
}

impl Relock {
    /// Takes the key's transaction-level advisory lock in `conn`'s
    /// transaction: waiting for it when `wait`, else whether it was free.
    async fn lock(&self, conn: &mut PgConnection, wait: bool) -> Result<bool, Error> {
        const KEY: &str =
            "hashtextextended('idempotency:' || $1::text || ':' || $2::text || ':' || $3 || ':' || $4, 0)";
        let statement = if wait {
            format!("SELECT true FROM (SELECT pg_advisory_xact_lock({KEY})) AS held")
        } else {
            format!("SELECT pg_try_advisory_xact_lock({KEY})")
        };
        let locked: bool = sqlx::query_scalar(&statement)
            .bind(self.tenant_id)
            .bind(self.caller_id)
            .bind(&self.operation)
            .bind(&self.key)
            .fetch_one(conn)
            .await?;
        Ok(locked)
    }

    /// Holds the key again in a new transaction of the request, once the
    /// first committed part of its work: waits while a retry runs (which
    /// finds that work and finishes it, see `carts.checkout`), then takes
    /// the savepoint [`Claim::finish`] rolls back to.
    pub(crate) async fn retake(&self, conn: &mut PgConnection) -> Result<(), Error> {
        self.lock(conn, true).await?;
        sqlx::query(&format!("SAVEPOINT {SAVEPOINT}"))
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// A key's stored outcome, as `begin` reads it.
#[derive(sqlx::FromRow)]
struct StoredOutcome {
    /// `None` for a key stored before keys had callers (migration 0021).
    caller_id: Option<Uuid>,
    fingerprint: Vec<u8>,
    status: i16,
    reply: Value,
}

impl Claim {
    /// The key, to hold again after [`crate::context::Ctx::commit_now`].
    pub(crate) fn relock(&self) -> Relock {
        self.held.clone()
    }

    /// Stores the handler's outcome with its change and commits; the reply
    /// to send, encoded in `content_type`.
    pub async fn finish(
        self,
        now: DateTime<Utc>,
        tx: Option<Tx>,
        outcome: Result<Value, Error>,
        content_type: ContentType,
    ) -> Result<Vec<u8>, Error> {
        let Some(mut tx) = tx else {
            return Err(Error::internal(anyhow::anyhow!(
                "the idempotent request's transaction is gone"
            )));
        };
        match outcome {
            Ok(reply) => {
                self.store(now, &mut tx, 200, &reply).await?;
                crate::db::commit(tx).await?;
                content_type.encode(&reply).map_err(Error::internal)
            }
            Err(err) if is_stored(err.code()) => {
                sqlx::query(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"))
                    .execute(&mut *tx)
                    .await?;
                let body = serde_json::json!({
                    "code": err.code(),
                    "message": err.message(),
                    "details": err.details(),
                });
                self.store(now, &mut tx, err.code().status(), &body).await?;
                crate::db::commit(tx).await?;
                Err(err)
            }
            // Dropped: rolled back, nothing stored.
            Err(err) => Err(err),
        }
    }

    async fn store(
        &self,
        now: DateTime<Utc>,
        conn: &mut PgConnection,
        status: u16,
        reply: &Value,
    ) -> Result<(), Error> {
        // A key older than the TTL not yet pruned is taken over.
        sqlx::query(
            "INSERT INTO idempotency_keys
                    (tenant_id, caller_id, operation, key, fingerprint, status, reply, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (tenant_id, operation, key, caller_id) DO UPDATE
                SET fingerprint = excluded.fingerprint, status = excluded.status,
                    reply = excluded.reply, created_at = excluded.created_at",
        )
        .bind(self.held.tenant_id)
        .bind(self.held.caller_id)
        .bind(&self.held.operation)
        .bind(&self.held.key)
        .bind(&self.fingerprint)
        .bind(status as i16)
        .bind(reply)
        .bind(now)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Errors a retry must get again; not those that say "try again".
fn is_stored(code: ErrorCode) -> bool {
    !matches!(
        code,
        ErrorCode::RateLimited
            | ErrorCode::Unavailable
            | ErrorCode::Internal
            | ErrorCode::IdempotencyKeyInUse
            | ErrorCode::IdempotencyKeyReused
    )
}

fn stored_error(body: Value) -> Result<Error, Error> {
    let code: ErrorCode = serde_json::from_value(body["code"].clone())
        .map_err(|e| Error::internal(anyhow::anyhow!("a stored error reply has no code: {e}")))?;
    let mut err = Error::new(code);
    if let Some(message) = body["message"].as_str() {
        err = err.with_message(message.to_owned());
    }
    if let Some(details) = body["details"].as_object() {
        err = err.with_details(details.clone());
    }
    Ok(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_1_to_255_printable_ascii() {
        assert!(is_valid_key("order-42:retry 1"));
        assert!(is_valid_key(&"k".repeat(255)));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key(&"k".repeat(256)));
        assert!(!is_valid_key("tab\there"));
        assert!(!is_valid_key("ünïcode"));
    }

    #[test]
    fn only_final_outcomes_are_stored() {
        assert!(is_stored(ErrorCode::Conflict));
        assert!(is_stored(ErrorCode::ValidationFailed));
        assert!(is_stored(ErrorCode::InsufficientStock));
        assert!(!is_stored(ErrorCode::Unavailable));
        assert!(!is_stored(ErrorCode::RateLimited));
    }
}
