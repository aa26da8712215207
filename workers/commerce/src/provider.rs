//! Payment providers: the [`PaymentProvider`] trait and the built-in
//! [`TestProvider`].
//!
//! Every call carries an idempotency key derived from the payment and the
//! operation (`{payment_id}:capture`, `{payment_id}:refund:{n}`), so a
//! call repeated after a lost answer (a retried request, a process that
//! died between the provider's charge and our commit) charges once: the
//! provider answers the repeat with the first outcome.
//!
//! A real provider fits without touching the workers: implement the trait
//! over its HTTP API (for a Stripe-like one, `authorize` creates a payment
//! intent with manual capture and passes `key` as its `Idempotency-Key`
//! header, `capture` captures the intent named by `reference`, `void`
//! cancels it, `refund` creates a refund of `amount`), map its declines to
//! [`Outcome::Declined`] and its transport failures to `Err` (the request
//! then gets `unavailable` and changes nothing), and hand it to
//! [`crate::worker_with`].

use futures::future::BoxFuture;
use olympus_contracts::commerce::Money;

/// What a provider did with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; `reference` names the provider's object (kept with the payment).
    Done { reference: String },
    /// Refused for good, with a reason for the payment's `failure_reason`.
    Declined { reason: String },
}

/// One call to a provider.
#[derive(Debug, Clone)]
pub struct ProviderCall<'a> {
    /// Derived from the payment and the operation: the same call repeated
    /// carries the same key.
    pub key: String,
    pub amount: &'a Money,
    /// The provider's reference from the authorization (empty for it).
    pub reference: &'a str,
}

/// A payment provider. Errors are transport failures: nothing is known to
/// have happened, and the same call (same key) may be made again.
pub trait PaymentProvider: Send + Sync + 'static {
    /// The name recorded in payments (`provider`).
    fn name(&self) -> &'static str;
    /// Reserves `amount` on the card `token`.
    fn authorize<'a>(
        &'a self,
        call: ProviderCall<'a>,
        token: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Outcome>>;
    /// Takes the authorized amount.
    fn capture<'a>(&'a self, call: ProviderCall<'a>) -> BoxFuture<'a, anyhow::Result<Outcome>>;
    /// Releases an authorization.
    fn void<'a>(&'a self, call: ProviderCall<'a>) -> BoxFuture<'a, anyhow::Result<Outcome>>;
    /// Gives back `amount` of a capture.
    fn refund<'a>(&'a self, call: ProviderCall<'a>) -> BoxFuture<'a, anyhow::Result<Outcome>>;
}

/// The built-in `test` provider, behaving like the well-known card test
/// tokens: `tok_visa` succeeds, `tok_chargeDeclined` is declined
/// (`card_declined`), any other token is declined (`invalid_token`). It
/// keeps nothing: its references are derived from the keys, so a repeated
/// call gets the same answer.
#[derive(Debug, Default)]
pub struct TestProvider;

impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    fn authorize<'a>(
        &'a self,
        call: ProviderCall<'a>,
        token: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Outcome>> {
        Box::pin(async move {
            Ok(match token {
                "tok_visa" => Outcome::Done {
                    reference: format!("test_auth_{}", call.key),
                },
                "tok_chargeDeclined" => Outcome::Declined {
                    reason: "card_declined".to_owned(),
                },
                _ => Outcome::Declined {
                    reason: "invalid_token".to_owned(),
                },
            })
        })
    }

    fn capture<'a>(&'a self, call: ProviderCall<'a>) -> BoxFuture<'a, anyhow::Result<Outcome>> {
        Box::pin(async move {
            Ok(Outcome::Done {
                reference: format!("test_capture_{}", call.key),
            })
        })
    }

    fn void<'a>(&'a self, call: ProviderCall<'a>) -> BoxFuture<'a, anyhow::Result<Outcome>> {
        Box::pin(async move {
            Ok(Outcome::Done {
                reference: format!("test_void_{}", call.key),
            })
        })
    }

    fn refund<'a>(&'a self, call: ProviderCall<'a>) -> BoxFuture<'a, anyhow::Result<Outcome>> {
        Box::pin(async move {
            Ok(Outcome::Done {
                reference: format!("test_refund_{}", call.key),
            })
        })
    }
}
