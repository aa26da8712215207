//! One commit per request: for every operation the catalog marks I
//! (idempotent), a failure after the handler, at the commit, leaves
//! neither the change, nor its events, nor a stored reply; the same key
//! then runs the operation as if for the first time, once.
//!
//! The failure is Postgres's own: a deferred constraint trigger on
//! `idempotency_keys` raises at the commit of the transaction that stores
//! the reply. A handler that committed its change apart from that
//! transaction would leave the change behind, and this test would see it.

use olympus_contracts::operation::{Operation, ALL};
use olympus_tests::{with_app, Encoding, Reply, Signup, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

/// Makes the next commits that store an idempotent reply fail (or not).
async fn fail_commits(app: &TestApp, fail: bool) {
    sqlx::query("UPDATE e2e_fail_commits SET fail = $1")
        .bind(fail)
        .execute(app.db.pool())
        .await
        .unwrap();
}

async fn install_failure(app: &TestApp) {
    for statement in [
        "CREATE TABLE e2e_fail_commits (fail boolean NOT NULL)",
        "INSERT INTO e2e_fail_commits VALUES (false)",
        "CREATE FUNCTION e2e_fail_commit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
         BEGIN
             IF (SELECT fail FROM e2e_fail_commits) THEN
                 RAISE EXCEPTION 'a failure injected at the commit';
             END IF;
             RETURN NULL;
         END $$",
        "CREATE CONSTRAINT TRIGGER e2e_fail_at_commit AFTER INSERT ON idempotency_keys
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION e2e_fail_commit()",
    ] {
        sqlx::query(statement).execute(app.db.pool()).await.unwrap();
    }
}

/// Every table of the schema, each as one digest of all its rows (read as
/// the owner, past row-level security).
async fn snapshot(app: &TestApp) -> Vec<(String, i64, String)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
            AND table_name NOT IN ('e2e_fail_commits', '_sqlx_migrations')
          ORDER BY 1",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    let mut digests = Vec::new();
    for table in tables {
        let (rows, digest): (i64, String) = sqlx::query_as(&format!(
            "SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), ''))
               FROM \"{table}\" t"
        ))
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        digests.push((table, rows, digest));
    }
    digests
}

/// Events recorded so far (mail goes through the outbox too).
async fn outbox_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'event'")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

/// Until the relay has published every event recorded so far.
async fn published(app: &TestApp) {
    app.outbox_published(Duration::from_secs(10))
        .await
        .expect("the relay publishes the outbox");
}

fn subject(op: &Operation) -> String {
    format!("{}.v1.{}", op.service.as_str(), op.name)
}

async fn ok(app: &TestApp, owner: &Signup, op: &str, body: Value) -> Value {
    app.call(Encoding::Json, op, Some(&owner.access_token), body)
        .await
        .ok()
}

async fn product(app: &TestApp, owner: &Signup, sku: &str) -> Value {
    let body = json!({"sku": sku, "name": "Atomic widget",
                      "price": {"amount": 1250, "currency": "EUR"}, "stock": 20});
    ok(app, owner, "commerce.v1.products.create", body).await["product"].clone()
}

async fn order(app: &TestApp, owner: &Signup, sku: &str) -> Value {
    let p = product(app, owner, sku).await;
    let body = json!({"items": [{"product_id": p["id"], "quantity": 2}]});
    ok(app, owner, "commerce.v1.orders.create", body).await["order"].clone()
}

async fn authorized(app: &TestApp, owner: &Signup, sku: &str) -> (Value, Value) {
    let order = order(app, owner, sku).await;
    let body = json!({"order_id": order["id"], "method": {"type": "card", "token": "tok_visa"}});
    let payment = ok(app, owner, "commerce.v1.payments.authorize", body).await["payment"].clone();
    (order, payment)
}

async fn captured(app: &TestApp, owner: &Signup, sku: &str) -> (Value, Value) {
    let (order, payment) = authorized(app, owner, sku).await;
    let body = json!({"payment_id": payment["id"]});
    let payment = ok(app, owner, "commerce.v1.payments.capture", body).await["payment"].clone();
    (order, payment)
}

/// A request `op` accepts, after making what it acts on (without keys).
/// Every operation marked I needs one here.
async fn request_for(app: &TestApp, owner: &Signup, op: &Operation) -> Value {
    let sku = format!("ATOM-{}", op.name.replace('.', "-").to_uppercase());
    match subject(op).as_str() {
        "tenant.v1.members.invite" => json!({"email": "ines@example.com", "role": "member"}),
        "commerce.v1.products.create" => json!({"sku": sku, "name": "Atomic widget",
            "price": {"amount": 1250, "currency": "EUR"}, "stock": 20}),
        "commerce.v1.inventory.adjust" => {
            json!({"product_id": product(app, owner, &sku).await["id"], "delta": 5})
        }
        "commerce.v1.products.variants.create" => json!({
            "product_id": product(app, owner, &sku).await["id"], "sku": format!("{sku}-M"),
            "option_values": {"size": "M"}, "price": {"amount": 1300, "currency": "EUR"}}),
        "commerce.v1.promotions.create" => json!({"code": "ATOM-10", "kind": "percentage",
            "percent": 10}),
        "commerce.v1.carts.checkout" => {
            let variant = product(app, owner, &sku).await["id"].clone();
            let cart = ok(app, owner, "commerce.v1.carts.create", json!({})).await;
            let id = cart["cart"]["id"].clone();
            let line = json!({"cart_id": id, "variant_id": variant, "quantity": 2});
            ok(app, owner, "commerce.v1.carts.items.set", line).await;
            // Without a card: one commit. With one, the order commits
            // before the payment by design (contract §5), and a retry with
            // the key finishes it (carts.rs, the lost reply).
            json!({"cart_id": id})
        }
        "commerce.v1.orders.create" => json!({"items": [
            {"product_id": product(app, owner, &sku).await["id"], "quantity": 3}]}),
        "commerce.v1.orders.cancel" => json!({"id": order(app, owner, &sku).await["id"]}),
        "commerce.v1.orders.fulfill" => json!({"id": captured(app, owner, &sku).await.0["id"]}),
        "commerce.v1.payments.authorize" => json!({"order_id": order(app, owner, &sku).await["id"],
            "method": {"type": "card", "token": "tok_visa"}}),
        "commerce.v1.payments.capture" | "commerce.v1.payments.void" => {
            json!({"payment_id": authorized(app, owner, &sku).await.1["id"]})
        }
        "commerce.v1.payments.refund" => {
            json!({"payment_id": captured(app, owner, &sku).await.1["id"]})
        }
        other => panic!("{other} is marked I: give this test a request for it"),
    }
}

#[tokio::test]
async fn a_failure_at_the_commit_of_any_idempotent_operation_leaves_nothing_behind() {
    with_app(async |app| {
        install_failure(app).await;
        let owner = app.signup(Encoding::Json).await;
        let idempotent: Vec<&Operation> = ALL.iter().filter(|op| op.idempotent).collect();
        assert!(
            idempotent.len() >= 10,
            "the catalog marks {} operations I",
            idempotent.len()
        );
        for op in idempotent {
            let name = subject(op);
            let body = request_for(app, &owner, op).await;
            let key = format!("atomic-{}", op.name);
            let call = async || -> Reply {
                app.call_keyed(
                    Encoding::Json,
                    &name,
                    Some(&owner.access_token),
                    Some(&key),
                    body.clone(),
                )
                .await
            };
            published(app).await;
            let events_before = app.events(Some(&owner.tenant_id), None, 0).await.len();
            let outbox_before = outbox_rows(app).await;
            let before = snapshot(app).await;

            fail_commits(app, true).await;
            call().await.err(500, "internal");
            fail_commits(app, false).await;
            let after = snapshot(app).await;
            let changed: Vec<_> = before
                .iter()
                .zip(&after)
                .filter(|(b, a)| b != a)
                .map(|(b, a)| format!("{}: {} rows, then {}", b.0, b.1, a.1))
                .collect();
            assert!(
                changed.is_empty(),
                "{name}: a failed commit changed {changed:?}"
            );

            // The key is free: the operation runs now, once, and its events
            // are all that reach the stream.
            let reply = call().await.ok();
            assert_eq!(
                call().await.ok(),
                reply,
                "{name}: the retry gets the stored reply"
            );
            published(app).await;
            let recorded = usize::try_from(outbox_rows(app).await - outbox_before).unwrap();
            assert!(recorded >= 1, "{name} records an event");
            let events = app
                .events(Some(&owner.tenant_id), None, events_before + recorded)
                .await;
            assert_eq!(
                events.len(),
                events_before + recorded,
                "{name}: events published"
            );
        }
    })
    .await;
}
