//! The transactional outbox: events (and mail) exist if and only if their
//! change committed, reach JetStream once, in order per aggregate.
//!
//! **Recording** (this module). A handler records what happened in the
//! transaction that changes the data: `tx.emit(aggregate, &data)` on the
//! request's transaction (`crate::context::Tx`, which calls [`Events::emit`]),
//! where `data` is the event type's struct in `olympus_contracts::event::data`. The row commits or
//! rolls back with the change. Each insert first takes a transaction-level
//! advisory lock on the event's aggregate, so rows of one aggregate get
//! their `seq` in commit order, and it `NOTIFY`s the relay, which Postgres
//! delivers at commit. A row that could never be published (over
//! [`MAX_PAYLOAD_BYTES`], or an invalid subject) is refused here: the
//! change fails with `internal` and rolls back.
//!
//! **Relaying** ([`relay`]): one leading relay per database publishes the
//! rows in order. **Streams** ([`streams`]): the JetStream streams it
//! publishes into. **Dead letters** ([`dead_letters`]): rows the relay met
//! that JetStream refuses for good, parked so that nothing queues behind
//! them, for an operator to inspect and re-queue.

use chrono::{DateTime, Utc};
use olympus_contracts::event::{
    Envelope, EventData, EventType, Mail, MailTemplate, SCHEMA_VERSION,
};
use olympus_contracts::Subjects;
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgConnection};
use std::sync::LazyLock;
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::Error;

pub mod dead_letters;
pub mod relay;
pub mod streams;

pub use relay::{Prune, Relay};
pub use streams::{ensure_streams, StreamSettings, DUPLICATE_WINDOW};

/// The `NOTIFY` channel that wakes the relay.
pub const CHANNEL: &str = "olympus_outbox";

/// The largest event or mail payload a handler may record: half of NATS's
/// default 1 MiB `max_payload`, with room for the headers, so that every
/// recorded row can be published. Every request the contract allows must
/// fit: the largest event is an order's (`order.placed`, and the others
/// that carry the whole order), at most about 240 KB for 100 lines (names
/// of 200 four-byte characters, SKUs of 64 bytes, three option values of
/// 40 four-byte characters, revision 3) and two addresses of 200
/// four-byte characters per field (`commerce::the_largest_order_the_contract
/// _allows_is_placed_and_published` in the end-to-end tests places one).
pub const MAX_PAYLOAD_BYTES: usize = 512 * 1024;

/// Whether `subject` is one NATS accepts for a publish: non-empty literal
/// tokens, no wildcards or whitespace.
pub fn is_publishable_subject(subject: &str) -> bool {
    subject.split('.').all(|token| {
        !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'>')
    })
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct Event {
    event_type: EventType,
    tenant_id: Uuid,
    aggregate_id: Uuid,
    data: Result<serde_json::Value, String>,
}

impl Event {
    /// An event about `aggregate_id` (the user, tenant, order... whose
    /// events must stay in order) of `tenant_id`; its type is the one whose
    /// `data` shape it carries.
    pub fn new<D: EventData>(tenant_id: Uuid, aggregate_id: Uuid, data: &D) -> Self {
        Self {
            event_type: D::TYPE,
            tenant_id,
            aggregate_id,
            data: serde_json::to_value(data).map_err(|e| e.to_string()),
        }
    }
}

/// Records events and mail for one request: carries its correlation id and
/// actor into every envelope.
#[derive(Debug, Clone)]
pub struct Events<'a> {
    subjects: &'a Subjects,
    clock: &'a dyn Clock,
    mail_limit: u32,
    correlation_id: &'a str,
    traceparent: Option<&'a str>,
    actor_id: Option<Uuid>,
}

impl<'a> Events<'a> {
    /// Events of one request: its correlation id and trace context go into
    /// every envelope; no actor until [`Events::actor`] names one. Mail to
    /// an address goes out at most `mail_limit` times an hour.
    pub fn new(
        subjects: &'a Subjects,
        clock: &'a dyn Clock,
        mail_limit: u32,
        correlation_id: &'a str,
        traceparent: Option<&'a str>,
    ) -> Self {
        Self {
            subjects,
            clock,
            mail_limit,
            correlation_id,
            traceparent,
            actor_id: None,
        }
    }

    /// Events of an operator command rather than a request (`olympus admin
    /// bootstrap`): `correlation_id` names the run. It sends no mail.
    pub fn operator(subjects: &'a Subjects, clock: &'a dyn Clock, correlation_id: &'a str) -> Self {
        Self {
            subjects,
            clock,
            mail_limit: 0,
            correlation_id,
            traceparent: None,
            actor_id: None,
        }
    }

    /// The time of the events, from the app's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Overrides the actor (e.g. the user who just logged in).
    pub fn actor(mut self, actor_id: Uuid) -> Self {
        self.actor_id = Some(actor_id);
        self
    }

    /// Records an event in `conn`'s transaction (tenant-scoped).
    pub async fn emit(&self, conn: &mut PgConnection, event: Event) -> Result<Uuid, Error> {
        let row = self.prepare(event)?;
        row.record(conn).await?;
        Ok(row.id)
    }

    /// An event made ready to record, checked as [`Events::emit`] checks it,
    /// for a statement of the caller's own that records it with its change
    /// in one round trip: a function that calls `olympus_outbox_record`
    /// with the arguments [`Prepared::add_to`] adds, in the caller's
    /// tenant scope and transaction (see `olympus_open_login_session`).
    pub fn prepare(&self, event: Event) -> Result<Prepared, Error> {
        let occurred_at = self.clock.now();
        let envelope = Envelope {
            id: olympus_contracts::event::event_id(occurred_at),
            event_type: event.event_type,
            tenant_id: event.tenant_id,
            occurred_at,
            correlation_id: self.correlation_id.to_owned(),
            actor_id: self.actor_id,
            schema_version: SCHEMA_VERSION,
            data: event.data.map_err(|e| {
                Error::internal(anyhow::anyhow!(
                    "serializing the data of {}: {e}",
                    event.event_type.as_str()
                ))
            })?,
        };
        let row = Prepared {
            id: envelope.id,
            tenant_id: event.tenant_id,
            aggregate_id: event.aggregate_id,
            kind: "event",
            subject: self
                .subjects
                .event(event.tenant_id, event.event_type.as_str()),
            correlation_id: self.correlation_id.to_owned(),
            traceparent: self.traceparent.map(str::to_owned),
            payload: serde_json::to_vec(&envelope).map_err(Error::internal)?,
        };
        row.check()?;
        Ok(row)
    }

    /// Records a mail for the mailer, in `conn`'s transaction (the mail's
    /// tenant's), unless its recipient already had the hourly limit of
    /// mails (`OLYMPUS_MAIL_LIMIT_PER_HOUR`) from any tenant: then nothing
    /// is queued.
    pub async fn mail(&self, conn: &mut PgConnection, new: NewMail<'_>) -> Result<Mailed, Error> {
        let now = self.clock.now();
        // Counted across tenants, recorded in this transaction (migration
        // 0022): creating tenants is no way to mail one address more.
        let oldest: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT olympus_mail_take($1, $2, $3)")
                .bind(new.to)
                .bind(now)
                .bind(i32::try_from(self.mail_limit).unwrap_or(i32::MAX))
                .fetch_one(&mut *conn)
                .await?;
        if let Some(oldest) = oldest {
            let free_at = oldest + chrono::Duration::hours(1);
            let retry_after_secs = (free_at - now).num_seconds().max(1) as u64;
            tracing::info!(
                template = new.template.as_str(),
                retry_after_secs,
                "mail limit reached for the recipient: not sent"
            );
            return Ok(Mailed::Limited { retry_after_secs });
        }
        let NewMail {
            template,
            to,
            tenant_id,
            user_id,
            token,
            expires_at,
        } = new;
        let mail = Mail {
            id: Uuid::now_v7(),
            template,
            to: to.to_owned(),
            tenant_id,
            user_id,
            token: token.map(olympus_contracts::Secret::new),
            expires_at,
            correlation_id: self.correlation_id.to_owned(),
        };
        let row = Prepared {
            id: mail.id,
            tenant_id,
            // A user's mails keep their order; an invitation's is alone.
            aggregate_id: user_id.unwrap_or(mail.id),
            kind: "mail",
            subject: self.subjects.mail(tenant_id, template.as_str()),
            correlation_id: self.correlation_id.to_owned(),
            traceparent: self.traceparent.map(str::to_owned),
            payload: serde_json::to_vec(&mail).map_err(Error::internal)?,
        };
        row.check()?;
        row.record(conn).await?;
        Ok(Mailed::Queued(mail.id))
    }
}

/// What became of a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mailed {
    /// On its way, with this id.
    Queued(Uuid),
    /// Not sent: the recipient had the hourly limit of mails already.
    Limited { retry_after_secs: u64 },
}

/// A mail to record: who gets which template with which token.
#[derive(Debug)]
pub struct NewMail<'a> {
    pub template: MailTemplate,
    pub to: &'a str,
    pub tenant_id: Uuid,
    /// The user the mail is about; `None` for an invitation.
    pub user_id: Option<Uuid>,
    /// The secret: it travels only in the mail message; `None` for a
    /// notice.
    pub token: Option<&'a str>,
    /// When the token stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// An outbox row about to be recorded: an event ([`Events::prepare`]) or
/// a mail.
#[derive(Debug)]
pub struct Prepared {
    id: Uuid,
    tenant_id: Uuid,
    aggregate_id: Uuid,
    kind: &'static str,
    subject: String,
    correlation_id: String,
    traceparent: Option<String>,
    payload: Vec<u8>,
}

impl Prepared {
    /// Refuses a row that could never be published.
    fn check(&self) -> Result<(), Error> {
        if self.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(Error::internal(anyhow::anyhow!(
                "refusing a {} of {} bytes on {}: over the outbox bound of {MAX_PAYLOAD_BYTES} bytes",
                self.kind,
                self.payload.len(),
                self.subject
            )));
        }
        if !is_publishable_subject(&self.subject) {
            return Err(Error::internal(anyhow::anyhow!(
                "refusing a {} on the invalid subject {:?}",
                self.kind,
                self.subject
            )));
        }
        Ok(())
    }
}

impl Prepared {
    /// Adds the row to `args` as nine arguments in a row, those of
    /// `olympus_outbox_record(id, tenant, aggregate, kind, subject,
    /// correlation, payload, traceparent, channel)`.
    pub fn add_to(&self, args: &mut PgArguments) -> Result<(), Error> {
        let added = (|| {
            args.add(self.id)?;
            args.add(self.tenant_id)?;
            args.add(self.aggregate_id)?;
            args.add(self.kind)?;
            args.add(self.subject.as_str())?;
            args.add(self.correlation_id.as_str())?;
            args.add(self.payload.as_slice())?;
            args.add(self.traceparent.as_deref())?;
            args.add(CHANNEL)
        })();
        added.map_err(|e| Error::internal(anyhow::anyhow!("binding an outbox row: {e}")))
    }

    /// The SQL call recording a row whose arguments [`Prepared::add_to`]
    /// added from `$first` on, for a statement of the caller's own that
    /// records its change and its event in one round trip:
    /// `olympus_outbox_record($first, ..., $first+8)` (migration 0020): a
    /// transaction-level advisory lock on its aggregate first, so that rows
    /// of one aggregate get their `seq` in commit order, then a `NOTIFY` for
    /// the relay (delivered at commit) and the insert.
    pub fn record_call(first: usize) -> String {
        let args: Vec<String> = (first..first + 9).map(|n| format!("${n}")).collect();
        format!("olympus_outbox_record({})", args.join(", "))
    }

    /// Records the row in `conn`'s transaction.
    async fn record(&self, conn: &mut PgConnection) -> Result<(), Error> {
        let mut args = PgArguments::default();
        self.add_to(&mut args)?;
        static RECORD: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {}", Prepared::record_call(1)));
        sqlx::query_with(&RECORD, args).execute(conn).await?;
        Ok(())
    }
}
