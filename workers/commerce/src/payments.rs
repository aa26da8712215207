//! Payments: `payments.authorize`, `capture`, `void`, `refund`, through a
//! [`PaymentProvider`].
//!
//! A payment is for the whole order. Its amounts can never exceed what is
//! allowed: the capture is the authorized amount, refunds together at most
//! the capture (also `CHECK`ed by the table). Capturing marks the order
//! paid; a refund of everything captured marks it refunded. Each handler
//! locks the payment and its order, then calls the provider with a key
//! derived from the payment and the operation, then records the outcome in
//! the same transaction: with the request's `Idempotency-Key`, a retry after
//! a lost reply gets the stored reply; without one, the payment's state
//! refuses a second capture (`invalid_state`), and a provider reached twice
//! with the same key charges once. The provider's time is not the
//! request's database time ([`olympus_runtime::deadline::exempt`]): a
//! provider's call is never cut by it.

use chrono::{DateTime, Utc};
use olympus_contracts::commerce::{
    AuthorizePaymentRequest, Money, Order, OrderStatus, Payment, PaymentIdRequest, PaymentMethod,
    PaymentReply, PaymentStatus, RefundPaymentRequest,
};
use olympus_contracts::event::data;
use olympus_contracts::ErrorCode;
use olympus_runtime::error::Validation;
use olympus_runtime::{Ctx, Error, Tx};
use sqlx::PgConnection;
use std::sync::Arc;
use uuid::Uuid;

use crate::money;
use crate::orders;
use crate::provider::{Outcome, PaymentProvider, ProviderCall};

const PAYMENT_COLUMNS: &str = "id, order_id, status, currency, amount, captured_amount, \
     refunded_amount, provider, provider_ref, failure_reason, created_at";

#[derive(Debug, sqlx::FromRow)]
struct PaymentRow {
    id: Uuid,
    order_id: Uuid,
    status: String,
    currency: String,
    amount: i64,
    captured_amount: i64,
    refunded_amount: i64,
    provider: String,
    provider_ref: Option<String>,
    failure_reason: Option<String>,
    created_at: DateTime<Utc>,
}

impl PaymentRow {
    fn into_payment(self) -> Result<Payment, Error> {
        let status = PaymentStatus::parse(&self.status).ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "payment {} has status {:?}",
                self.id,
                self.status
            ))
        })?;
        Ok(Payment {
            id: self.id,
            order_id: self.order_id,
            status,
            amount: money::of(self.amount, &self.currency),
            captured_amount: money::of(self.captured_amount, &self.currency),
            refunded_amount: money::of(self.refunded_amount, &self.currency),
            provider: self.provider,
            failure_reason: self.failure_reason,
            created_at: self.created_at,
        })
    }
}

/// The payments of the orders `order_ids`, oldest first (for
/// `auth.export_me`).
pub async fn of_orders(conn: &mut PgConnection, order_ids: &[Uuid]) -> Result<Vec<Payment>, Error> {
    let rows: Vec<PaymentRow> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = ANY($1) ORDER BY id"
    ))
    .bind(order_ids)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(PaymentRow::into_payment).collect()
}

fn provider_failed(err: anyhow::Error) -> Error {
    Error::new(ErrorCode::Unavailable)
        .with_message("the payment provider did not answer; retry")
        .with_detail("retry_after_secs", 1)
        .with_source(err)
}

/// Checks a payment method (`{type: "card", token}`) given as `field`.
pub(crate) fn check_method(v: &mut Validation, field: &str, method: &PaymentMethod) {
    if method.kind != "card" {
        v.add(format!("{field}.type"), "must be card");
    }
    if method.token.is_empty() || method.token.len() > 255 {
        v.add(format!("{field}.token"), "must be 1 to 255 characters");
    }
}

/// Handles `commerce.payments.authorize`: for the whole of a pending
/// order the caller may see. A declined card is a `failed` payment (and
/// `payment.failed`), not an error.
pub async fn authorize(
    ctx: Ctx,
    request: AuthorizePaymentRequest,
    provider: Arc<dyn PaymentProvider>,
) -> Result<PaymentReply, Error> {
    let mut v = Validation::default();
    check_method(&mut v, "method", &request.method);
    v.finish()?;
    let mut tx = ctx.tx().await?;
    let order = orders::find(&ctx, &mut tx, request.order_id, true).await?;
    if order.status != OrderStatus::PendingPayment {
        return Err(Error::invalid_state(
            order.status.as_str(),
            "only an order pending payment can be paid",
        ));
    }
    let live: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM payments WHERE order_id = $1 AND status <> 'failed' AND status <> 'voided'",
    )
    .bind(order.id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(payment_id) = live {
        return Err(
            Error::invalid_state("authorized", "the order already has a payment")
                .with_detail("payment_id", payment_id.to_string()),
        );
    }
    let payment_id = Uuid::now_v7();
    let key = format!("{payment_id}:authorize");
    let payment =
        authorize_locked(&mut tx, &order, payment_id, key, &request.method, &provider).await?;
    Ok(PaymentReply { payment })
}

/// Authorizes the total of `order` (locked in `tx`, pending payment)
/// through the provider with `key`, and records the payment `payment_id`
/// and its event.
async fn authorize_locked(
    tx: &mut Tx<'_>,
    order: &Order,
    payment_id: Uuid,
    key: String,
    method: &PaymentMethod,
    provider: &Arc<dyn PaymentProvider>,
) -> Result<Payment, Error> {
    let now = tx.now();
    let tenant_id = tx.tenant()?;
    let outcome = olympus_runtime::deadline::exempt(provider.authorize(
        ProviderCall {
            key,
            amount: &order.total,
            reference: "",
        },
        &method.token,
    ))
    .await
    .map_err(provider_failed)?;
    let (status, reference, failure) = match outcome {
        Outcome::Done { reference } => (PaymentStatus::Authorized, Some(reference), None),
        Outcome::Declined { reason } => (PaymentStatus::Failed, None, Some(reason)),
    };
    let row: PaymentRow = sqlx::query_as(&format!(
        "INSERT INTO payments (id, tenant_id, order_id, status, currency, amount, provider,
                               provider_ref, failure_reason, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
         RETURNING {PAYMENT_COLUMNS}"
    ))
    .bind(payment_id)
    .bind(tenant_id)
    .bind(order.id)
    .bind(status.as_str())
    .bind(&order.total.currency)
    .bind(order.total.amount)
    .bind(provider.name())
    .bind(reference)
    .bind(failure)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let payment = row.into_payment()?;
    match status {
        PaymentStatus::Authorized => {
            let authorized = data::PaymentAuthorized {
                payment: payment.clone(),
            };
            tx.emit(order.id, &authorized).await?
        }
        _ => {
            let failed = data::PaymentFailed {
                payment: payment.clone(),
            };
            tx.emit(order.id, &failed).await?
        }
    };
    Ok(payment)
}

/// The payment of the order `order_id` a checkout made, in the request's
/// transaction, once the order committed (`carts.checkout`): its first
/// payment when it has one (a retry's, or the checkout's own before a lost
/// reply), else the authorization of its total with a provider key
/// derived from the order (`{order_id}:authorize`), so that a provider
/// reached twice for it charges once. `None` when the order is no longer
/// pending payment (cancelled meanwhile).
pub(crate) async fn authorize_checkout(
    ctx: &Ctx,
    order_id: Uuid,
    method: &PaymentMethod,
    provider: &Arc<dyn PaymentProvider>,
) -> Result<(Order, Option<Payment>), Error> {
    let mut tx = ctx.tx().await?;
    let order = orders::find(ctx, &mut tx, order_id, true).await?;
    let first: Option<PaymentRow> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1 ORDER BY id LIMIT 1"
    ))
    .bind(order.id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(first) = first {
        return Ok((order, Some(first.into_payment()?)));
    }
    if order.status != OrderStatus::PendingPayment {
        return Ok((order, None));
    }
    let key = format!("{}:authorize", order.id);
    let payment = authorize_locked(&mut tx, &order, Uuid::now_v7(), key, method, provider).await?;
    Ok((order, Some(payment)))
}

/// The payment `id`, locked, with its provider reference.
async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<(Payment, String), Error> {
    let row: Option<PaymentRow> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let row = row.ok_or_else(|| Error::not_found("no such payment"))?;
    let reference = row.provider_ref.clone().unwrap_or_default();
    Ok((row.into_payment()?, reference))
}

/// Records a payment's new amounts and status.
async fn record(
    conn: &mut PgConnection,
    payment: &Payment,
    (status, captured, refunded): (PaymentStatus, i64, i64),
    now: DateTime<Utc>,
) -> Result<Payment, Error> {
    let row: PaymentRow = sqlx::query_as(&format!(
        "UPDATE payments SET status = $2, captured_amount = $3, refunded_amount = $4, updated_at = $5
          WHERE id = $1 RETURNING {PAYMENT_COLUMNS}"
    ))
    .bind(payment.id)
    .bind(status.as_str())
    .bind(captured)
    .bind(refunded)
    .bind(now)
    .fetch_one(conn)
    .await?;
    row.into_payment()
}

/// What can happen to a payment after its authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Capture,
    Void,
    Refund,
}

impl Action {
    /// Whether a payment that is `status` allows it: capture and void an
    /// authorization; refund a capture, until all of it is refunded.
    fn allowed(self, status: PaymentStatus) -> bool {
        use PaymentStatus::*;
        match self {
            Self::Capture | Self::Void => status == Authorized,
            Self::Refund => matches!(status, Captured | PartiallyRefunded),
        }
    }
}

fn wrong_state(payment: &Payment, what: &str) -> Error {
    Error::invalid_state(
        payment.status.as_str(),
        format!(
            "a payment that is {} cannot be {what}",
            payment.status.as_str()
        ),
    )
}

/// Handles `commerce.payments.capture`: the authorized amount; the order
/// becomes paid.
pub async fn capture(
    ctx: Ctx,
    request: PaymentIdRequest,
    provider: Arc<dyn PaymentProvider>,
) -> Result<PaymentReply, Error> {
    let now = ctx.now();
    let mut tx = ctx.tx().await?;
    let (payment, reference) = lock(&mut tx, request.payment_id).await?;
    if !Action::Capture.allowed(payment.status) {
        return Err(wrong_state(&payment, "captured"));
    }
    let order = orders::find(&ctx, &mut tx, payment.order_id, true).await?;
    let outcome = olympus_runtime::deadline::exempt(provider.capture(ProviderCall {
        key: format!("{}:capture", payment.id),
        amount: &payment.amount,
        reference: &reference,
    }))
    .await
    .map_err(provider_failed)?;
    if let Outcome::Declined { reason } = outcome {
        return Err(Error::invalid_state(
            "authorized",
            format!("the provider refused the capture: {reason}"),
        ));
    }
    let amount = payment.amount.amount;
    let payment = record(&mut tx, &payment, (PaymentStatus::Captured, amount, 0), now).await?;
    let order = orders::transition(&mut tx, order, OrderStatus::Paid, now).await?;
    let captured = data::PaymentCaptured {
        payment: payment.clone(),
    };
    tx.emit(order.id, &captured).await?;
    let order_id = order.id;
    let paid = data::OrderPaid {
        order,
        payment_id: payment.id,
    };
    tx.emit(order_id, &paid).await?;
    Ok(PaymentReply { payment })
}

/// Handles `commerce.payments.void`: an authorization released; the order
/// stays pending payment (another card may pay it).
pub async fn void(
    ctx: Ctx,
    request: PaymentIdRequest,
    provider: Arc<dyn PaymentProvider>,
) -> Result<PaymentReply, Error> {
    let now = ctx.now();
    let mut tx = ctx.tx().await?;
    let (payment, reference) = lock(&mut tx, request.payment_id).await?;
    if !Action::Void.allowed(payment.status) {
        return Err(wrong_state(&payment, "voided"));
    }
    olympus_runtime::deadline::exempt(provider.void(ProviderCall {
        key: format!("{}:void", payment.id),
        amount: &payment.amount,
        reference: &reference,
    }))
    .await
    .map_err(provider_failed)?;
    let payment = record(&mut tx, &payment, (PaymentStatus::Voided, 0, 0), now).await?;
    let voided = data::PaymentVoided {
        payment: payment.clone(),
    };
    tx.emit(payment.order_id, &voided).await?;
    Ok(PaymentReply { payment })
}

/// What a refund of `payment` takes: `requested`, in the payment's currency
/// and at most what is left of the capture, or all that is left.
fn refund_amount(payment: &Payment, requested: Option<&Money>) -> Result<i64, Error> {
    let left = payment.captured_amount.amount - payment.refunded_amount.amount;
    let Some(requested) = requested else {
        return Ok(left);
    };
    let mut v = Validation::default();
    match money::parse(requested, false) {
        Ok(m) if m.currency != payment.amount.currency => {
            v.add(
                "amount.currency",
                format!("must be {}", payment.amount.currency),
            );
        }
        Ok(m) if m.amount > left => {
            v.add(
                "amount.amount",
                format!("must be at most {left}, what is left of the capture"),
            );
        }
        Ok(_) => {}
        Err(problems) => {
            for p in problems {
                v.add("amount", p);
            }
        }
    }
    v.finish()?;
    Ok(requested.amount)
}

/// A captured payment's state once `refunded` of its `captured` amount is
/// refunded in all.
fn status_after_refund(captured: i64, refunded: i64) -> PaymentStatus {
    if refunded == captured {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    }
}

/// Handles `commerce.payments.refund`: `amount` (all that is left when
/// absent), never more than the capture minus earlier refunds; all of it
/// marks the order refunded.
pub async fn refund(
    ctx: Ctx,
    request: RefundPaymentRequest,
    provider: Arc<dyn PaymentProvider>,
) -> Result<PaymentReply, Error> {
    let now = ctx.now();
    let mut tx = ctx.tx().await?;
    let (payment, reference) = lock(&mut tx, request.payment_id).await?;
    if !Action::Refund.allowed(payment.status) {
        return Err(wrong_state(&payment, "refunded"));
    }
    let amount = refund_amount(&payment, request.amount.as_ref())?;
    let refunded = payment.refunded_amount.amount + amount;
    olympus_runtime::deadline::exempt(provider.refund(ProviderCall {
        // This refund of the payment, named by what was refunded
        // before it: a repeat has the same key, the next refund another.
        key: format!("{}:refund:{}", payment.id, payment.refunded_amount.amount),
        amount: &money::of(amount, &payment.amount.currency),
        reference: &reference,
    }))
    .await
    .map_err(provider_failed)?;
    let status = status_after_refund(payment.captured_amount.amount, refunded);
    let full = status == PaymentStatus::Refunded;
    let captured = payment.captured_amount.amount;
    let payment = record(&mut tx, &payment, (status, captured, refunded), now).await?;
    let refunded = data::PaymentRefunded {
        payment: payment.clone(),
        amount: money::of(amount, &payment.amount.currency),
    };
    tx.emit(payment.order_id, &refunded).await?;
    if full {
        let order = orders::find(&ctx, &mut tx, payment.order_id, true).await?;
        let order = orders::transition(&mut tx, order, OrderStatus::Refunded, now).await?;
        let order_id = order.id;
        let refunded = data::OrderRefunded {
            order,
            payment_id: payment.id,
        };
        tx.emit(order_id, &refunded).await?;
    }
    Ok(PaymentReply { payment })
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus::*;

    /// Every state, from the contract's names.
    fn all() -> Vec<PaymentStatus> {
        PaymentStatus::NAMES
            .iter()
            .map(|n| PaymentStatus::parse(n).unwrap())
            .collect()
    }

    #[test]
    fn a_payment_is_captured_or_voided_once_and_refunded_only_after_capture() {
        for status in all() {
            assert_eq!(
                Action::Capture.allowed(status),
                status == Authorized,
                "capture {status:?}"
            );
            assert_eq!(
                Action::Void.allowed(status),
                status == Authorized,
                "void {status:?}"
            );
            assert_eq!(
                Action::Refund.allowed(status),
                matches!(status, Captured | PartiallyRefunded),
                "refund {status:?}"
            );
        }
    }

    fn captured(amount: i64, refunded: i64) -> Payment {
        Payment {
            id: Uuid::nil(),
            order_id: Uuid::nil(),
            status: if refunded == 0 {
                Captured
            } else {
                PartiallyRefunded
            },
            amount: money::of(amount, "EUR"),
            captured_amount: money::of(amount, "EUR"),
            refunded_amount: money::of(refunded, "EUR"),
            provider: "test".into(),
            failure_reason: None,
            created_at: DateTime::UNIX_EPOCH,
        }
    }

    /// The one field a `validation_failed` names.
    fn field(err: Error) -> String {
        assert_eq!(err.code(), olympus_contracts::ErrorCode::ValidationFailed);
        let fields = err.details().unwrap()["fields"].as_object().unwrap();
        assert_eq!(fields.len(), 1, "{fields:?}");
        fields.keys().next().unwrap().clone()
    }

    #[test]
    fn refunds_never_exceed_what_is_left_of_the_capture() {
        let payment = captured(10_000, 2_500);
        assert_eq!(
            refund_amount(&payment, None).unwrap(),
            7_500,
            "all that is left"
        );
        assert_eq!(
            refund_amount(&payment, Some(&money::of(7_500, "EUR"))).unwrap(),
            7_500
        );
        assert_eq!(
            refund_amount(&payment, Some(&money::of(1, "EUR"))).unwrap(),
            1
        );
        let too_much = refund_amount(&payment, Some(&money::of(7_501, "EUR"))).unwrap_err();
        assert_eq!(field(too_much), "amount.amount");
        let other = refund_amount(&payment, Some(&money::of(100, "USD"))).unwrap_err();
        assert_eq!(field(other), "amount.currency");
        let zero = refund_amount(&payment, Some(&money::of(0, "EUR"))).unwrap_err();
        assert_eq!(field(zero), "amount");
        assert_eq!(status_after_refund(10_000, 10_000), Refunded);
        assert_eq!(status_after_refund(10_000, 9_999), PartiallyRefunded);
    }
}
