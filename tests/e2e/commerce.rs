//! Commerce (contract §5 commerce, §6): catalog, stock that never goes
//! below zero, orders, payments that never charge twice.

use async_nats::HeaderMap;
use olympus_tests::{with_app, Encoding, Member, Reply, Signup, TestApp};
use serde_json::{json, Value};
use std::collections::HashSet;

/// `commerce.v1.{op}` in `enc`, with an optional idempotency key.
async fn call(
    app: &TestApp,
    enc: Encoding,
    op: &str,
    token: &str,
    key: Option<&str>,
    body: Value,
) -> Reply {
    app.call_keyed(enc, &format!("commerce.v1.{op}"), Some(token), key, body)
        .await
}

async fn product(app: &TestApp, owner: &Signup, sku: &str, price: i64, stock: i64) -> Value {
    call(
        app,
        Encoding::Json,
        "products.create",
        &owner.access_token,
        None,
        json!({"sku": sku, "name": format!("Product {sku}"),
               "price": {"amount": price, "currency": "EUR"}, "stock": stock}),
    )
    .await
    .ok()["product"]
        .clone()
}

async fn stock(app: &TestApp, id: &Value) -> i64 {
    sqlx::query_scalar("SELECT stock FROM products WHERE id = $1::uuid")
        .bind(id.as_str().unwrap())
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

fn order_of(items: &[(&Value, i64)]) -> Value {
    json!({"items": items.iter().map(|(id, q)| json!({"product_id": id, "quantity": q})).collect::<Vec<_>>()})
}

#[tokio::test]
async fn products_are_money_exact_unique_per_tenant_and_searchable() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let member = app.join(&owner, "shopper@example.com", "member").await;
        for enc in Encoding::BOTH {
            let created = call(
                app,
                enc,
                "products.create",
                &owner.access_token,
                None,
                json!({"sku": format!("MUG-{enc:?}"), "name": "Blue Mug", "description": "Holds tea.",
                       "price": {"amount": 1299, "currency": "EUR"}, "stock": 5}),
            )
            .await
            .ok();
            let product = &created["product"];
            let mut keys: Vec<&str> = product.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                ["created_at", "description", "id", "name", "price", "sku", "status", "stock", "updated_at"]
            );
            assert_eq!(product["price"], json!({"amount": 1299, "currency": "EUR"}));
            assert_eq!(product["status"], "active");
            assert_eq!(product["stock"], 5);
        }
        let taken = call(
            app,
            Encoding::Json,
            "products.create",
            &owner.access_token,
            None,
            json!({"sku": "MUG-Json", "name": "Again", "price": {"amount": 1, "currency": "EUR"}}),
        )
        .await
        .err(409, "conflict");
        assert_eq!(taken["details"]["field"], "sku");
        // Another tenant may use the same SKU.
        let other = app.signup(Encoding::Json).await;
        product(app, &other, "MUG-Json", 100, 1).await;

        for (price, field) in [
            (json!({"amount": 10, "currency": "EURO"}), "price"),
            (json!({"amount": 10, "currency": "XAU"}), "price"),
            (json!({"amount": -1, "currency": "EUR"}), "price"),
        ] {
            let bad = call(
                app,
                Encoding::Json,
                "products.create",
                &owner.access_token,
                None,
                json!({"sku": "BAD", "name": "Bad", "price": price}),
            )
            .await
            .err(422, "validation_failed");
            assert!(bad["details"]["fields"][field].is_array(), "{bad}");
        }
        call(
            app,
            Encoding::Json,
            "products.create",
            &owner.access_token,
            None,
            json!({"sku": "BAD", "name": "Bad", "price": {"amount": 10.5, "currency": "EUR"}}),
        )
        .await
        .err(400, "bad_request");
        call(
            app,
            Encoding::Json,
            "products.create",
            &member.access_token,
            None,
            json!({"sku": "M", "name": "M", "price": {"amount": 1, "currency": "EUR"}}),
        )
        .await
        .err(403, "forbidden");

        let teapot = product(app, &owner, "TEA-1", 4500, 2).await;
        call(
            app,
            Encoding::Json,
            "products.update",
            &owner.access_token,
            None,
            json!({"id": teapot["id"], "status": "archived", "price": {"amount": 3900, "currency": "EUR"}}),
        )
        .await
        .ok();
        let search = async |body: Value| {
            call(app, Encoding::Json, "products.list", &member.access_token, None, body)
                .await
                .ok()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["sku"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(search(json!({"q": "mug"})).await, ["MUG-MsgPack", "MUG-Json"]);
        assert_eq!(search(json!({"q": "tea-"})).await, ["TEA-1"]);
        assert_eq!(search(json!({"q": "%"})).await, Vec::<String>::new(), "wildcards are literal");
        assert_eq!(search(json!({"status": "archived"})).await, ["TEA-1"]);
        assert_eq!(search(json!({"status": "active"})).await.len(), 2);
        let got = call(app, Encoding::Json, "products.get", &member.access_token, None, json!({"id": teapot["id"]}))
            .await
            .ok();
        assert_eq!(got["product"]["price"]["amount"], 3900);
        // Another tenant's product is not_found.
        call(app, Encoding::Json, "products.get", &other.access_token, None, json!({"id": teapot["id"]}))
            .await
            .err(404, "not_found");

        // Inventory: never below zero.
        let adjusted = call(
            app,
            Encoding::Json,
            "inventory.adjust",
            &owner.access_token,
            None,
            json!({"product_id": teapot["id"], "delta": -2, "reason": "broken in transit"}),
        )
        .await
        .ok();
        assert_eq!(adjusted["product"]["stock"], 0);
        let refused = call(
            app,
            Encoding::Json,
            "inventory.adjust",
            &owner.access_token,
            None,
            json!({"product_id": teapot["id"], "delta": -1}),
        )
        .await
        .err(409, "invalid_state");
        assert_eq!(refused["details"]["stock"], 0);
        let events = app
            .events(Some(&owner.tenant_id), Some("inventory.adjusted"), 1)
            .await;
        assert_eq!(
            events[0].body["data"],
            json!({"product_id": teapot["id"], "sku": "TEA-1", "delta": -2, "stock": 0,
                   "reason": "broken in transit"})
        );
    })
    .await;
}

#[tokio::test]
async fn fifty_concurrent_orders_for_the_last_ten_units_sell_exactly_ten() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let last = product(app, &owner, "LAST", 500, 10).await;
        let replies = futures::future::join_all((0..50).map(|i| {
            let enc = if i % 2 == 0 {
                Encoding::Json
            } else {
                Encoding::MsgPack
            };
            call(
                app,
                enc,
                "orders.create",
                &owner.access_token,
                None,
                order_of(&[(&last["id"], 1)]),
            )
        }))
        .await;
        let mut sold = 0;
        for reply in &replies {
            if reply.status() == 200 {
                sold += 1;
            } else {
                let err = reply.err(409, "insufficient_stock");
                assert_eq!(
                    err["details"]["items"],
                    json!([{"product_id": last["id"], "requested": 1, "available": 0}])
                );
            }
        }
        assert_eq!(sold, 10);
        assert_eq!(stock(app, &last["id"]).await, 0);
        let numbers: HashSet<i64> = replies
            .iter()
            .filter(|r| r.status() == 200)
            .map(|r| r.ok()["order"]["number"].as_i64().unwrap())
            .collect();
        assert_eq!(
            numbers,
            (1..=10).collect(),
            "the tenant's order numbers 1 to 10"
        );
    })
    .await;
}

#[tokio::test]
async fn an_order_with_one_short_line_changes_nothing_and_names_every_short_line() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let plenty = product(app, &owner, "PLENTY", 250, 100).await;
        let few = product(app, &owner, "FEW", 1000, 2).await;
        let none = product(app, &owner, "NONE", 10, 0).await;
        let short = call(
            app,
            Encoding::Json,
            "orders.create",
            &owner.access_token,
            None,
            order_of(&[(&plenty["id"], 3), (&few["id"], 3), (&none["id"], 1)]),
        )
        .await
        .err(409, "insufficient_stock");
        let mut items = short["details"]["items"].as_array().unwrap().clone();
        items.sort_by_key(|i| i["available"].as_i64());
        assert_eq!(
            items,
            [
                json!({"product_id": none["id"], "requested": 1, "available": 0}),
                json!({"product_id": few["id"], "requested": 3, "available": 2}),
            ]
        );
        assert_eq!(stock(app, &plenty["id"]).await, 100, "nothing reserved");
        assert_eq!(stock(app, &few["id"]).await, 2);

        // Priced on the server (one line per product: revision 3 refuses a
        // second line of one product, see below).
        let placed = call(
            app,
            Encoding::MsgPack,
            "orders.create",
            &owner.access_token,
            None,
            json!({"items": [
                    {"product_id": plenty["id"], "quantity": 4},
                    {"product_id": few["id"], "quantity": 1}],
                   "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "Berlin",
                                        "postal_code": "10115", "country": "de"},
                   "contact_phone": "+49 30 123456"}),
        )
        .await
        .ok();
        let order = &placed["order"];
        assert_eq!(order["status"], "pending_payment");
        assert_eq!(order["total"], json!({"amount": 2000, "currency": "EUR"}));
        assert_eq!(order["items"][0]["quantity"], 4);
        assert_eq!(order["items"][0]["line_total"], json!({"amount": 1000, "currency": "EUR"}));
        assert_eq!(order["items"][1]["unit_price"], json!({"amount": 1000, "currency": "EUR"}));
        assert_eq!(order["shipping_address"]["country"], "DE");
        assert_eq!(order["billing_address"], Value::Null);
        assert_eq!(order["contact_phone"], "+4930123456");
        assert_eq!(stock(app, &plenty["id"]).await, 96);

        // Bad requests name their fields.
        let bad = call(
            app,
            Encoding::Json,
            "orders.create",
            &owner.access_token,
            None,
            json!({"items": [{"product_id": plenty["id"], "quantity": 0}],
                   "billing_address": {"name": "", "line1": "x", "city": "x", "postal_code": "x",
                                       "country": "XX"},
                   "contact_phone": "123"}),
        )
        .await
        .err(422, "validation_failed");
        let fields = bad["details"]["fields"].as_object().unwrap();
        for field in ["items[0].quantity", "billing_address.name", "billing_address.country", "contact_phone"] {
            assert!(fields.contains_key(field), "{field}: {bad}");
        }
        call(app, Encoding::Json, "orders.create", &owner.access_token, None, json!({"items": []}))
            .await
            .err(422, "validation_failed");
        let many: Vec<(&Value, i64)> = (0..101).map(|_| (&plenty["id"], 1)).collect();
        call(app, Encoding::Json, "orders.create", &owner.access_token, None, order_of(&many))
            .await
            .err(422, "validation_failed");
        let usd = call(
            app,
            Encoding::Json,
            "products.create",
            &owner.access_token,
            None,
            json!({"sku": "USD", "name": "Dollar thing", "price": {"amount": 5, "currency": "USD"}, "stock": 5}),
        )
        .await
        .ok();
        call(
            app,
            Encoding::Json,
            "orders.create",
            &owner.access_token,
            None,
            order_of(&[(&plenty["id"], 1), (&usd["product"]["id"], 1)]),
        )
        .await
        .err(422, "validation_failed");
        // Another tenant's product is not_found.
        let other = app.signup(Encoding::Json).await;
        call(app, Encoding::Json, "orders.create", &other.access_token, None, order_of(&[(&plenty["id"], 1)]))
            .await
            .err(404, "not_found");
    })
    .await;
}

#[tokio::test]
async fn one_key_makes_one_order_and_two_tenants_make_two() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let other = app.signup(Encoding::Json).await;
        let ours = product(app, &owner, "KEYED", 100, 50).await;
        let theirs = product(app, &other, "KEYED", 100, 50).await;
        let replies = futures::future::join_all((0..5).map(|_| {
            call(
                app,
                Encoding::Json,
                "orders.create",
                &owner.access_token,
                Some("checkout-1"),
                order_of(&[(&ours["id"], 2)]),
            )
        }))
        .await;
        let mut placed = Vec::new();
        for reply in &replies {
            match reply.status() {
                200 => placed.push(reply.ok()),
                _ => {
                    reply.err(409, "idempotency_key_in_use");
                }
            }
        }
        assert!(!placed.is_empty());
        assert!(
            placed.iter().all(|p| *p == placed[0]),
            "every answer is the same order"
        );
        // Retried once the first is done: the same reply, for everyone.
        for enc in Encoding::BOTH {
            let again = call(
                app,
                enc,
                "orders.create",
                &owner.access_token,
                Some("checkout-1"),
                order_of(&[(&ours["id"], 2)]),
            )
            .await
            .ok();
            assert_eq!(again, placed[0]);
        }
        assert_eq!(stock(app, &ours["id"]).await, 48, "reserved once");
        let orders: i64 =
            sqlx::query_scalar("SELECT count(*) FROM orders WHERE tenant_id = $1::uuid")
                .bind(&owner.tenant_id)
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert_eq!(orders, 1);
        let theirs_placed = call(
            app,
            Encoding::Json,
            "orders.create",
            &other.access_token,
            Some("checkout-1"),
            order_of(&[(&theirs["id"], 2)]),
        )
        .await
        .ok();
        assert_ne!(theirs_placed["order"]["id"], placed[0]["order"]["id"]);
        assert_eq!(stock(app, &theirs["id"]).await, 48);
    })
    .await;
}

/// A pending order of `customer` for `quantity` units of a fresh product.
async fn pending_order(app: &TestApp, owner: &Signup, customer: &str, sku: &str) -> Value {
    let p = product(app, owner, sku, 1500, 10).await;
    call(
        app,
        Encoding::Json,
        "orders.create",
        customer,
        None,
        order_of(&[(&p["id"], 2)]),
    )
    .await
    .ok()["order"]
        .clone()
}

async fn authorize(app: &TestApp, token: &str, order: &Value, card: &str) -> Reply {
    call(
        app,
        Encoding::Json,
        "payments.authorize",
        token,
        None,
        json!({"order_id": order["id"], "method": {"type": "card", "token": card}}),
    )
    .await
}

#[tokio::test]
async fn a_capture_retried_after_a_lost_reply_charges_once_and_refunds_never_exceed_it() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = &owner.access_token;
        let order = pending_order(app, &owner, token, "PAY").await;
        let bad = call(
            app,
            Encoding::Json,
            "payments.authorize",
            token,
            None,
            json!({"order_id": order["id"], "method": {"type": "cash", "token": ""}}),
        )
        .await
        .err(422, "validation_failed");
        let fields = bad["details"]["fields"].as_object().unwrap();
        assert!(
            fields.contains_key("method.type") && fields.contains_key("method.token"),
            "{bad}"
        );
        let declined = authorize(app, token, &order, "tok_chargeDeclined")
            .await
            .ok();
        assert_eq!(declined["payment"]["status"], "failed");
        assert_eq!(declined["payment"]["failure_reason"], "card_declined");
        let payment = authorize(app, token, &order, "tok_visa").await.ok()["payment"].clone();
        assert_eq!(payment["status"], "authorized");
        assert_eq!(
            payment["amount"],
            json!({"amount": 3000, "currency": "EUR"})
        );
        assert_eq!(
            payment["captured_amount"],
            json!({"amount": 0, "currency": "EUR"})
        );
        assert_eq!(payment["provider"], "test");
        authorize(app, token, &order, "tok_visa")
            .await
            .err(409, "invalid_state");

        // The first capture's reply is lost: nobody waits for it.
        let mut headers = HeaderMap::new();
        headers.insert("Content-Type", "application/json");
        headers.insert("Authorization", format!("Bearer {token}"));
        headers.insert("Idempotency-Key", "capture-1");
        let body = json!({"payment_id": payment["id"]}).to_string();
        app.nats
            .publish_with_reply_and_headers(
                app.subject("commerce.v1.payments.capture"),
                app.nats.new_inbox(),
                headers,
                body.into(),
            )
            .await
            .unwrap();
        app.nats.flush().await.unwrap();
        // The client retries with the same key until it gets an answer.
        let captured = loop {
            let reply = call(
                app,
                Encoding::MsgPack,
                "payments.capture",
                token,
                Some("capture-1"),
                json!({"payment_id": payment["id"]}),
            )
            .await;
            if reply.status() == 409 && reply.body()["code"] == "idempotency_key_in_use" {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
            break reply.ok();
        };
        assert_eq!(captured["payment"]["status"], "captured");
        assert_eq!(captured["payment"]["captured_amount"]["amount"], 3000);
        // Without the key, the payment's state refuses a second capture.
        let again = call(
            app,
            Encoding::Json,
            "payments.capture",
            token,
            None,
            json!({"payment_id": payment["id"]}),
        )
        .await
        .err(409, "invalid_state");
        assert_eq!(again["details"]["state"], "captured");
        let captures = app
            .events(Some(&owner.tenant_id), Some("payment.captured"), 1)
            .await;
        assert_eq!(captures.len(), 1, "charged once");
        let paid = call(
            app,
            Encoding::Json,
            "orders.get",
            token,
            None,
            json!({"id": order["id"]}),
        )
        .await
        .ok();
        assert_eq!(paid["order"]["status"], "paid");

        // Refunds: never more than the capture.
        let refund = async |amount: Option<i64>| {
            let mut body = json!({"payment_id": payment["id"]});
            if let Some(amount) = amount {
                body["amount"] = json!({"amount": amount, "currency": "EUR"});
            }
            call(app, Encoding::Json, "payments.refund", token, None, body).await
        };
        let partial = refund(Some(1000)).await.ok();
        assert_eq!(partial["payment"]["status"], "partially_refunded");
        assert_eq!(partial["payment"]["refunded_amount"]["amount"], 1000);
        let over = refund(Some(2001)).await.err(422, "validation_failed");
        assert!(over["details"]["fields"]["amount.amount"].is_array());
        call(
            app,
            Encoding::Json,
            "payments.refund",
            token,
            None,
            json!({"payment_id": payment["id"], "amount": {"amount": 10, "currency": "USD"}}),
        )
        .await
        .err(422, "validation_failed");
        let rest = refund(None).await.ok();
        assert_eq!(rest["payment"]["status"], "refunded");
        assert_eq!(rest["payment"]["refunded_amount"]["amount"], 3000);
        refund(Some(1)).await.err(409, "invalid_state");
        let refunded = call(
            app,
            Encoding::Json,
            "orders.get",
            token,
            None,
            json!({"id": order["id"]}),
        )
        .await
        .ok();
        assert_eq!(refunded["order"]["status"], "refunded");
        let order_events = app
            .events(Some(&owner.tenant_id), Some("order.refunded"), 1)
            .await;
        assert_eq!(order_events[0].body["data"]["payment_id"], payment["id"]);
    })
    .await;
}

#[tokio::test]
async fn the_state_machine_refuses_every_transition_the_contract_does_not_list() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = &owner.access_token;
        let op = async |name: &str, body: Value| {
            call(app, Encoding::Json, name, token, None, body).await
        };
        let refused = |reply: Reply, state: &str| {
            let err = reply.err(409, "invalid_state");
            assert_eq!(err["details"]["state"], state);
        };

        // pending_payment: fulfil no; cancel yes (stock back).
        let pending = pending_order(app, &owner, token, "SM-1").await;
        refused(
            op("orders.fulfill", json!({"id": pending["id"]})).await,
            "pending_payment",
        );
        let product_id = pending["items"][0]["product_id"].clone();
        assert_eq!(stock(app, &product_id).await, 8);
        let cancelled = op("orders.cancel", json!({"id": pending["id"]})).await.ok();
        assert_eq!(cancelled["order"]["status"], "cancelled");
        assert_eq!(
            stock(app, &product_id).await,
            10,
            "cancel releases the stock"
        );
        // cancelled: nothing.
        for name in ["orders.cancel", "orders.fulfill"] {
            refused(op(name, json!({"id": pending["id"]})).await, "cancelled");
        }
        refused(
            authorize(app, token, &pending, "tok_visa").await,
            "cancelled",
        );

        // paid: cancel no, fulfil yes; fulfilled: cancel and fulfil no.
        let order = pending_order(app, &owner, token, "SM-2").await;
        let payment = authorize(app, token, &order, "tok_visa").await.ok()["payment"].clone();
        // Held money first: cancelling waits for the void.
        let held = op("orders.cancel", json!({"id": order["id"]}))
            .await
            .err(409, "invalid_state");
        assert_eq!(held["details"]["payment_id"], payment["id"]);
        let voided = op("payments.void", json!({"payment_id": payment["id"]}))
            .await
            .ok();
        assert_eq!(voided["payment"]["status"], "voided");
        for name in ["payments.capture", "payments.void", "payments.refund"] {
            refused(
                op(name, json!({"payment_id": payment["id"]})).await,
                "voided",
            );
        }
        let payment = authorize(app, token, &order, "tok_visa").await.ok()["payment"].clone();
        refused(
            op("payments.refund", json!({"payment_id": payment["id"]})).await,
            "authorized",
        );
        op("payments.capture", json!({"payment_id": payment["id"]}))
            .await
            .ok();
        refused(
            op("payments.void", json!({"payment_id": payment["id"]})).await,
            "captured",
        );
        refused(
            op("orders.cancel", json!({"id": order["id"]})).await,
            "paid",
        );
        let fulfilled = op("orders.fulfill", json!({"id": order["id"]})).await.ok();
        assert_eq!(fulfilled["order"]["status"], "fulfilled");
        for name in ["orders.cancel", "orders.fulfill"] {
            refused(op(name, json!({"id": order["id"]})).await, "fulfilled");
        }
        // fulfilled → refunded by a full refund; refunded: nothing more.
        op("payments.refund", json!({"payment_id": payment["id"]}))
            .await
            .ok();
        for name in ["orders.cancel", "orders.fulfill"] {
            refused(op(name, json!({"id": order["id"]})).await, "refunded");
        }
        refused(authorize(app, token, &order, "tok_visa").await, "refunded");
    })
    .await;
}

#[tokio::test]
async fn members_see_their_own_orders_and_other_tenants_see_none() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let alice: Member = app.join(&owner, "alice@example.com", "member").await;
        let bob: Member = app.join(&owner, "bob@example.com", "member").await;
        let admin: Member = app.join(&owner, "admin@example.com", "admin").await;
        let alices = pending_order(app, &owner, &alice.access_token, "A-1").await;
        let bobs = pending_order(app, &owner, &bob.access_token, "B-1").await;
        assert_eq!(alices["customer_id"], alice.user_id.as_str());

        let list = async |token: &str| {
            call(app, Encoding::Json, "orders.list", token, None, json!({}))
                .await
                .ok()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(list(&alice.access_token).await, [alices["id"].clone()]);
        assert_eq!(
            list(&admin.access_token).await,
            [alices["id"].clone(), bobs["id"].clone()]
        );
        for op in ["orders.get", "orders.cancel"] {
            call(
                app,
                Encoding::Json,
                op,
                &alice.access_token,
                None,
                json!({"id": bobs["id"]}),
            )
            .await
            .err(404, "not_found");
        }
        authorize(app, &alice.access_token, &bobs, "tok_visa")
            .await
            .err(404, "not_found");
        // Members pay, admins capture.
        let payment = authorize(app, &alice.access_token, &alices, "tok_visa")
            .await
            .ok()["payment"]
            .clone();
        call(
            app,
            Encoding::Json,
            "payments.capture",
            &alice.access_token,
            None,
            json!({"payment_id": payment["id"]}),
        )
        .await
        .err(403, "forbidden");
        call(
            app,
            Encoding::Json,
            "orders.cancel",
            &bob.access_token,
            None,
            json!({"id": bobs["id"]}),
        )
        .await
        .ok();

        let other = app.signup(Encoding::Json).await;
        for (op, body) in [
            ("orders.get", json!({"id": alices["id"]})),
            ("orders.fulfill", json!({"id": alices["id"]})),
            ("payments.capture", json!({"payment_id": payment["id"]})),
            ("payments.refund", json!({"payment_id": payment["id"]})),
        ] {
            call(app, Encoding::Json, op, &other.access_token, None, body)
                .await
                .err(404, "not_found");
        }
        assert!(list(&other.access_token).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_second_line_of_one_product_is_refused_by_name_not_answered_internal() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let p = product(app, &owner, "TWICE", 100, 20_000).await;
        let other = product(app, &owner, "ONCE", 100, 10).await;
        let refused = call(
            app,
            Encoding::Json,
            "orders.create",
            &owner.access_token,
            None,
            order_of(&[(&p["id"], 10_000), (&other["id"], 1), (&p["id"], 6_000)]),
        )
        .await
        .err(422, "validation_failed");
        let fields = refused["details"]["fields"].as_object().unwrap();
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["items[2].product_id"],
            "{refused}"
        );
        assert!(fields["items[2].product_id"][0]
            .as_str()
            .unwrap()
            .contains("items[0]"));
        assert_eq!(stock(app, &p["id"]).await, 20_000, "nothing reserved");
    })
    .await;
}

#[tokio::test]
async fn the_largest_order_the_contract_allows_is_placed_and_published() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        // 200 four-byte characters, the longest name a product may have.
        let name = "\u{1D11E}".repeat(200);
        let mut lines = Vec::new();
        for i in 0..100 {
            let created = call(
                app,
                Encoding::MsgPack,
                "products.create",
                &owner.access_token,
                None,
                json!({"sku": format!("{i:0>3}-{}", "S".repeat(60)), "name": name,
                       "price": {"amount": 999_999, "currency": "EUR"}, "stock": 10_000}),
            )
            .await
            .ok();
            lines.push(json!({"product_id": created["product"]["id"], "quantity": 10_000}));
        }
        let field = "\u{1F600}".repeat(200);
        let address = json!({"name": field, "line1": field, "line2": field, "city": field,
                             "region": field, "postal_code": "12345678901234567890",
                             "country": "DE"});
        let placed = call(
            app,
            Encoding::Json,
            "orders.create",
            &owner.access_token,
            None,
            json!({"items": lines, "shipping_address": address, "billing_address": address,
                   "contact_phone": "+4930123456"}),
        )
        .await
        .ok();
        assert_eq!(placed["order"]["items"].as_array().unwrap().len(), 100);
        let events = app
            .events(Some(&owner.tenant_id), Some("order.placed"), 1)
            .await;
        assert_eq!(events[0].body["data"]["order"]["id"], placed["order"]["id"]);
        assert!(
            events[0].payload.len() > 64 * 1024,
            "{}",
            events[0].payload.len()
        );
        // And cancelled: the event carries the whole order again.
        call(
            app,
            Encoding::Json,
            "orders.cancel",
            &owner.access_token,
            None,
            json!({"id": placed["order"]["id"]}),
        )
        .await
        .ok();
        app.events(Some(&owner.tenant_id), Some("order.cancelled"), 1)
            .await;
    })
    .await;
}

#[tokio::test]
async fn stock_stays_within_one_bound_on_every_path_that_changes_it() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let p = product(app, &owner, "BOUNDED", 100, 10_000).await;
        let adjust = |delta: i64| {
            let body = json!({"product_id": p["id"], "delta": delta});
            let token = owner.access_token.clone();
            async move { call(app, Encoding::Json, "inventory.adjust", &token, None, body).await }
        };
        // A delta no stock could take is a bad request, not a state.
        for delta in [
            i64::MIN,
            i64::MIN + 1,
            -1_000_000_001,
            1_000_000_001,
            i64::MAX,
            0,
        ] {
            let refused = adjust(delta).await.err(422, "validation_failed");
            assert!(
                refused["details"]["fields"]["delta"].is_array(),
                "{delta}: {refused}"
            );
        }
        // An order takes 10,000; restocking fills the product to the maximum.
        let order = call(
            app,
            Encoding::Json,
            "orders.create",
            &owner.access_token,
            None,
            order_of(&[(&p["id"], 10_000)]),
        )
        .await
        .ok();
        assert_eq!(stock(app, &p["id"]).await, 0);
        adjust(1_000_000_000).await.ok();
        let over = adjust(1).await.err(409, "invalid_state");
        assert_eq!(over["details"]["state"], "stock_limit");
        assert_eq!(over["details"]["stock"], 1_000_000_000);
        // Cancelling would give 10,000 units back past the maximum: refused
        // the same way, and nothing changes.
        let cancel = call(
            app,
            Encoding::Json,
            "orders.cancel",
            &owner.access_token,
            None,
            json!({"id": order["order"]["id"]}),
        )
        .await
        .err(409, "invalid_state");
        assert_eq!(cancel["details"]["state"], "stock_limit");
        assert_eq!(cancel["details"]["stock"], 1_000_000_000);
        assert_eq!(cancel["details"]["product_id"], p["id"]);
        assert_eq!(stock(app, &p["id"]).await, 1_000_000_000);
        let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1::uuid")
            .bind(order["order"]["id"].as_str().unwrap())
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(status, "pending_payment");
        // Below zero is refused as before; with room again, the cancel works.
        let under = adjust(-1_000_000_000).await.ok();
        assert_eq!(under["product"]["stock"], 0);
        let short = adjust(-1).await.err(409, "invalid_state");
        assert_eq!(short["details"]["state"], "insufficient_stock");
        call(
            app,
            Encoding::Json,
            "orders.cancel",
            &owner.access_token,
            None,
            json!({"id": order["order"]["id"]}),
        )
        .await
        .ok();
        assert_eq!(stock(app, &p["id"]).await, 10_000);
        // Every adjust after all this still works.
        adjust(5).await.ok();
    })
    .await;
}
