//! `auth.export_me`: everything the tenant stores about the caller (GDPR
//! articles 15 and 20; contract §5, revision 3): the user, every stored
//! session, the orders they placed with their items and payments, their
//! carts, and whether TOTP is on with how many recovery codes are left.
//!
//! One consistent snapshot ([`Ctx::snapshot`]): an order placed or a
//! session opened while the export reads is in all of it or in none. No
//! secret is answered: no password hash, TOTP secret, recovery code, token
//! or token hash.

use chrono::{DateTime, Utc};
use olympus_contracts::auth::{ExportMeReply, ExportedOrder, ExportedSession, MfaStatusReply};
use olympus_contracts::shapes::Empty;
use olympus_contracts::ErrorCode;
use olympus_runtime::{Ctx, Error};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::users;

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// Handles `auth.export_me`.
pub async fn export_me(ctx: Ctx, _: Empty) -> Result<ExportMeReply, Error> {
    let claims = ctx.claims()?.clone();
    let mut tx = ctx.snapshot().await?;
    let user = users::find(&mut tx, claims.sub)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::Unauthenticated))?;
    let sessions: Vec<SessionRow> = sqlx::query_as(
        "SELECT id, created_at, last_used_at, expires_at, revoked_at, ip, user_agent
           FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
    )
    .bind(claims.sub)
    .fetch_all(&mut *tx)
    .await?;
    let sessions = sessions
        .into_iter()
        .map(|s| ExportedSession {
            current: s.id == claims.sid,
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(claims.sub)
    .fetch_one(&mut *tx)
    .await?;
    let orders = olympus_commerce::orders::of_customer(&mut tx, claims.sub).await?;
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let mut payments: BTreeMap<Uuid, Vec<_>> = BTreeMap::new();
    for payment in olympus_commerce::payments::of_orders(&mut tx, &ids).await? {
        payments.entry(payment.order_id).or_default().push(payment);
    }
    let orders = orders
        .into_iter()
        .map(|order| ExportedOrder {
            payments: payments.remove(&order.id).unwrap_or_default(),
            order,
        })
        .collect();
    let carts = olympus_commerce::carts::of_customer(&mut tx, claims.sub, ctx.now()).await?;
    tracing::info!(user_id = %claims.sub, "personal data exported");
    Ok(ExportMeReply {
        mfa: MfaStatusReply {
            totp: user.mfa_enabled,
            recovery_codes_left: u32::try_from(left).unwrap_or(u32::MAX),
        },
        user,
        sessions,
        orders,
        carts,
        exported_at: ctx.now(),
    })
}
