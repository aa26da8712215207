//! Commerce (contract §5 commerce, §6): catalog, stock that never goes
//! below zero, orders, payments that never charge twice.

use async_nats::HeaderMap;
use olympus_tests::ops::money;
use olympus_tests::{with_app, Encoding, Member, Reply, Signup, TestApp};
use serde_json::{json, Value};
use std::collections::HashSet;

async fn stock(app: &TestApp, id: &Value) -> i64 {
    sqlx::query_scalar("SELECT stock FROM product_variants WHERE id = $1::uuid")
        .bind(id.as_str().unwrap())
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn products_are_money_exact_unique_per_tenant_and_searchable() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = &owner.access_token;
        let member = app.join(&owner, "shopper@example.com", "member").await;
        for enc in Encoding::BOTH {
            let created = app
                .create_product(
                    token,
                    &format!("MUG-{enc:?}"),
                    "Blue Mug",
                    money(1299, "EUR"),
                )
                .with("description", "Holds tea.")
                .with("stock", 5)
                .encoded(enc)
                .await
                .ok();
            let product = &created["product"];
            let mut keys: Vec<&str> = product
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                [
                    "created_at",
                    "description",
                    "id",
                    "name",
                    "options",
                    "price",
                    "sku",
                    "status",
                    "stock",
                    "updated_at",
                    "variants"
                ]
            );
            assert_eq!(product["price"], json!({"amount": 1299, "currency": "EUR"}));
            assert_eq!(product["status"], "active");
            assert_eq!(product["stock"], 5);
        }
        let taken = app
            .create_product(token, "MUG-Json", "Again", money(1, "EUR"))
            .await
            .err(409, "conflict");
        assert_eq!(taken["details"]["field"], "sku");
        // Another tenant may use the same SKU.
        let other = app.signup(Encoding::Json).await;
        app.new_product(&other, "MUG-Json", 100, 1).await;

        for (price, field) in [
            (json!({"amount": 10, "currency": "EURO"}), "price"),
            (json!({"amount": 10, "currency": "XAU"}), "price"),
            (json!({"amount": -1, "currency": "EUR"}), "price"),
        ] {
            let bad = app
                .create_product(token, "BAD", "Bad", price)
                .await
                .err(422, "validation_failed");
            assert!(bad["details"]["fields"][field].is_array(), "{bad}");
        }
        app.create_product(
            token,
            "BAD",
            "Bad",
            json!({"amount": 10.5, "currency": "EUR"}),
        )
        .await
        .err(400, "bad_request");
        app.create_product(&member.access_token, "M", "M", money(1, "EUR"))
            .await
            .err(403, "forbidden");

        let teapot = app.new_product(&owner, "TEA-1", 4500, 2).await;
        app.update_product(token, &teapot["id"])
            .with("status", "archived")
            .with("price", money(3900, "EUR"))
            .await
            .ok();
        let search = async |field: &str, value: &str| {
            app.list_products(&member.access_token)
                .with(field, value)
                .await
                .ok()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["sku"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(search("q", "mug").await, ["MUG-MsgPack", "MUG-Json"]);
        assert_eq!(search("q", "tea-").await, ["TEA-1"]);
        assert_eq!(
            search("q", "%").await,
            Vec::<String>::new(),
            "wildcards are literal"
        );
        assert_eq!(search("status", "archived").await, ["TEA-1"]);
        assert_eq!(search("status", "active").await.len(), 2);
        let got = app
            .get_product(&member.access_token, &teapot["id"])
            .await
            .ok();
        assert_eq!(got["product"]["price"]["amount"], 3900);
        // Another tenant's product is not_found.
        app.get_product(&other.access_token, &teapot["id"])
            .await
            .err(404, "not_found");

        // Inventory: never below zero.
        let adjusted = app
            .adjust_inventory(token, &teapot["id"], -2)
            .with("reason", "broken in transit")
            .await
            .ok();
        assert_eq!(adjusted["product"]["stock"], 0);
        let refused = app
            .adjust_inventory(token, &teapot["id"], -1)
            .await
            .err(409, "invalid_state");
        assert_eq!(refused["details"]["stock"], 0);
        let events = app
            .events(Some(&owner.tenant_id), Some("inventory.adjusted"), 1)
            .await;
        assert_eq!(
            events[0].body["data"],
            json!({"product_id": teapot["id"], "variant_id": teapot["id"], "sku": "TEA-1",
                   "delta": -2, "stock": 0, "reason": "broken in transit"})
        );
    })
    .await;
}

/// A search matches the name, the SKU or a variant's SKU, each product
/// once, and pages through every match in id order (issue 34: each of the
/// three is read on its own index and the pages are their union); another
/// tenant's products never.
#[tokio::test]
async fn a_search_pages_through_every_match_once_by_name_sku_or_variant_sku() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = &owner.access_token;
        let other = app.signup(Encoding::Json).await;
        app.create_product(&other.access_token, "LAMP-OTHER", "Lamp", money(1, "EUR"))
            .await
            .ok();
        let mut ids = Vec::new();
        for (sku, name) in [
            ("A-1", "Desk lamp"),
            ("LAMP-2", "Chair"),
            ("T-3", "Table"),
            ("S-4", "Sofa"),
            ("F-5", "Floor LAMP"),
            ("M-6", "Mirror"),
            ("L-7", "Lamp%shade"),
        ] {
            let reply = app
                .create_product(token, sku, name, money(100, "EUR"))
                .await;
            ids.push(reply.ok()["product"]["id"].clone());
        }
        let variant = async |product: &Value, sku: &str, color: &str| {
            app.create_variant(
                token,
                product,
                sku,
                json!({"color": color}),
                money(100, "EUR"),
            )
            .await
            .ok();
        };
        variant(&ids[2], "T-3-LAMP-RED", "red").await;
        variant(&ids[5], "M-6-lamp", "red").await;
        variant(&ids[5], "M-6-LAMP-2", "blue").await;
        app.update_product(token, &ids[4])
            .with("status", "archived")
            .await
            .ok();
        let all_pages = async |q: &str, status: Option<&str>| {
            let mut call = app.list_products(token).with("q", q).with("limit", 2);
            if let Some(status) = status {
                call = call.with("status", status);
            }
            let items = call.every_page().await;
            items.iter().map(|p| p["id"].clone()).collect::<Vec<_>>()
        };
        let pick = |which: &[usize]| which.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
        assert_eq!(all_pages("lamp", None).await, pick(&[0, 1, 2, 4, 5, 6]));
        assert_eq!(
            all_pages("LAMP", Some("active")).await,
            pick(&[0, 1, 2, 5, 6])
        );
        assert_eq!(all_pages("lamp", Some("archived")).await, pick(&[4]));
        assert_eq!(
            all_pages("p%s", None).await,
            pick(&[6]),
            "wildcards are literal"
        );
        assert_eq!(all_pages("m-6-l", None).await, pick(&[5]));
        assert_eq!(
            all_pages("la", None).await,
            pick(&[0, 1, 2, 4, 5, 6]),
            "shorter than a trigram"
        );
        assert!(all_pages("lamp_", None).await.is_empty(), "_ is literal");
    })
    .await;
}

#[tokio::test]
async fn fifty_concurrent_orders_for_the_last_ten_units_sell_exactly_ten() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let last = app.new_product(&owner, "LAST", 500, 10).await;
        let replies = futures::future::join_all((0..50).map(|i| {
            let enc = if i % 2 == 0 {
                Encoding::Json
            } else {
                Encoding::MsgPack
            };
            app.create_order(&owner.access_token, &[(&last["id"], 1)])
                .encoded(enc)
                .send_until_served()
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
                    json!([{"product_id": last["id"], "variant_id": last["id"], "requested": 1, "available": 0}])
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
        let token = &owner.access_token;
        let plenty = app.new_product(&owner, "PLENTY", 250, 100).await;
        let few = app.new_product(&owner, "FEW", 1000, 2).await;
        let none = app.new_product(&owner, "NONE", 10, 0).await;
        let short = app
            .create_order(
                token,
                &[(&plenty["id"], 3), (&few["id"], 3), (&none["id"], 1)],
            )
            .await
            .err(409, "insufficient_stock");
        let mut items = short["details"]["items"].as_array().unwrap().clone();
        items.sort_by_key(|i| i["available"].as_i64());
        assert_eq!(
            items,
            [
                json!({"product_id": none["id"], "variant_id": none["id"], "requested": 1, "available": 0}),
                json!({"product_id": few["id"], "variant_id": few["id"], "requested": 3, "available": 2}),
            ]
        );
        assert_eq!(stock(app, &plenty["id"]).await, 100, "nothing reserved");
        assert_eq!(stock(app, &few["id"]).await, 2);

        // Priced on the server (one line per product: revision 3 refuses a
        // second line of one product, see below).
        let placed = app
            .create_order(token, &[(&plenty["id"], 4), (&few["id"], 1)])
            .with(
                "shipping_address",
                json!({"name": "Ada", "line1": "1 Main St", "city": "Berlin",
                       "postal_code": "10115", "country": "de"}),
            )
            .with("contact_phone", "+49 30 123456")
            .encoded(Encoding::MsgPack)
            .await
            .ok();
        let order = &placed["order"];
        assert_eq!(order["status"], "pending_payment");
        assert_eq!(order["total"], json!({"amount": 2000, "currency": "EUR"}));
        assert_eq!(order["items"][0]["quantity"], 4);
        assert_eq!(
            order["items"][0]["line_total"],
            json!({"amount": 1000, "currency": "EUR"})
        );
        assert_eq!(
            order["items"][1]["unit_price"],
            json!({"amount": 1000, "currency": "EUR"})
        );
        assert_eq!(order["shipping_address"]["country"], "DE");
        assert_eq!(order["billing_address"], Value::Null);
        assert_eq!(order["contact_phone"], "+4930123456");
        assert_eq!(stock(app, &plenty["id"]).await, 96);

        // Bad requests name their fields.
        let bad = app
            .create_order(token, &[(&plenty["id"], 0)])
            .with(
                "billing_address",
                json!({"name": "", "line1": "x", "city": "x", "postal_code": "x",
                       "country": "XX"}),
            )
            .with("contact_phone", "123")
            .await
            .err(422, "validation_failed");
        let fields = bad["details"]["fields"].as_object().unwrap();
        for field in [
            "items[0].quantity",
            "billing_address.name",
            "billing_address.country",
            "contact_phone",
        ] {
            assert!(fields.contains_key(field), "{field}: {bad}");
        }
        app.create_order(token, &[])
            .await
            .err(422, "validation_failed");
        let many: Vec<(&Value, i64)> = (0..101).map(|_| (&plenty["id"], 1)).collect();
        app.create_order(token, &many)
            .await
            .err(422, "validation_failed");
        let usd = app
            .create_product(token, "USD", "Dollar thing", money(5, "USD"))
            .with("stock", 5)
            .await
            .ok();
        app.create_order(token, &[(&plenty["id"], 1), (&usd["product"]["id"], 1)])
            .await
            .err(422, "validation_failed");
        // Another tenant's product is not_found.
        let other = app.signup(Encoding::Json).await;
        app.create_order(&other.access_token, &[(&plenty["id"], 1)])
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
        let ours = app.new_product(&owner, "KEYED", 100, 50).await;
        let theirs = app.new_product(&other, "KEYED", 100, 50).await;
        let replies = futures::future::join_all((0..5).map(|_| {
            app.create_order(&owner.access_token, &[(&ours["id"], 2)])
                .key("checkout-1")
                .send()
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
            let again = app
                .create_order(&owner.access_token, &[(&ours["id"], 2)])
                .key("checkout-1")
                .encoded(enc)
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
        let theirs_placed = app
            .create_order(&other.access_token, &[(&theirs["id"], 2)])
            .key("checkout-1")
            .await
            .ok();
        assert_ne!(theirs_placed["order"]["id"], placed[0]["order"]["id"]);
        assert_eq!(stock(app, &theirs["id"]).await, 48);
    })
    .await;
}

/// A pending order of `customer` for 2 units of a fresh product.
async fn pending_order(app: &TestApp, owner: &Signup, customer: &str, sku: &str) -> Value {
    let p = app.new_product(owner, sku, 1500, 10).await;
    app.create_order(customer, &[(&p["id"], 2)]).await.ok()["order"].clone()
}

#[tokio::test]
async fn a_capture_retried_after_a_lost_reply_charges_once_and_refunds_never_exceed_it() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = &owner.access_token;
        let order = pending_order(app, &owner, token, "PAY").await;
        let bad = app
            .authorize_payment(token, &order["id"], "cash", "")
            .await
            .err(422, "validation_failed");
        let fields = bad["details"]["fields"].as_object().unwrap();
        assert!(
            fields.contains_key("method.type") && fields.contains_key("method.token"),
            "{bad}"
        );
        let declined = app
            .authorize_payment(token, &order["id"], "card", "tok_chargeDeclined")
            .await
            .ok();
        assert_eq!(declined["payment"]["status"], "failed");
        assert_eq!(declined["payment"]["failure_reason"], "card_declined");
        let payment = app
            .authorize_payment(token, &order["id"], "card", "tok_visa")
            .await
            .ok()["payment"]
            .clone();
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
        app.authorize_payment(token, &order["id"], "card", "tok_visa")
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
            let reply = app
                .capture_payment(token, &payment["id"])
                .key("capture-1")
                .encoded(Encoding::MsgPack)
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
        let again = app
            .capture_payment(token, &payment["id"])
            .await
            .err(409, "invalid_state");
        assert_eq!(again["details"]["state"], "captured");
        let captures = app
            .events(Some(&owner.tenant_id), Some("payment.captured"), 1)
            .await;
        assert_eq!(captures.len(), 1, "charged once");
        let paid = app.get_order(token, &order["id"]).await.ok();
        assert_eq!(paid["order"]["status"], "paid");

        // Refunds: never more than the capture.
        let refund = async |amount: Option<i64>| {
            let mut refund = app.refund_payment(token, &payment["id"]);
            if let Some(amount) = amount {
                refund = refund.with("amount", money(amount, "EUR"));
            }
            refund.await
        };
        let partial = refund(Some(1000)).await.ok();
        assert_eq!(partial["payment"]["status"], "partially_refunded");
        assert_eq!(partial["payment"]["refunded_amount"]["amount"], 1000);
        let over = refund(Some(2001)).await.err(422, "validation_failed");
        assert!(over["details"]["fields"]["amount.amount"].is_array());
        app.refund_payment(token, &payment["id"])
            .with("amount", money(10, "USD"))
            .await
            .err(422, "validation_failed");
        let rest = refund(None).await.ok();
        assert_eq!(rest["payment"]["status"], "refunded");
        assert_eq!(rest["payment"]["refunded_amount"]["amount"], 3000);
        refund(Some(1)).await.err(409, "invalid_state");
        let refunded = app.get_order(token, &order["id"]).await.ok();
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
        let refused = |reply: Reply, state: &str| {
            let err = reply.err(409, "invalid_state");
            assert_eq!(err["details"]["state"], state);
        };
        let card = async |order: &Value| {
            app.authorize_payment(token, &order["id"], "card", "tok_visa")
                .await
        };

        // pending_payment: fulfil no; cancel yes (stock back).
        let pending = pending_order(app, &owner, token, "SM-1").await;
        refused(
            app.fulfill_order(token, &pending["id"]).await,
            "pending_payment",
        );
        let product_id = pending["items"][0]["product_id"].clone();
        assert_eq!(stock(app, &product_id).await, 8);
        let cancelled = app.cancel_order(token, &pending["id"]).await.ok();
        assert_eq!(cancelled["order"]["status"], "cancelled");
        assert_eq!(
            stock(app, &product_id).await,
            10,
            "cancel releases the stock"
        );
        // cancelled: nothing.
        for call in [
            app.cancel_order(token, &pending["id"]),
            app.fulfill_order(token, &pending["id"]),
        ] {
            refused(call.await, "cancelled");
        }
        refused(card(&pending).await, "cancelled");

        // paid: cancel no, fulfil yes; fulfilled: cancel and fulfil no.
        let order = pending_order(app, &owner, token, "SM-2").await;
        let payment = card(&order).await.ok()["payment"].clone();
        // Held money first: cancelling waits for the void.
        let held = app
            .cancel_order(token, &order["id"])
            .await
            .err(409, "invalid_state");
        assert_eq!(held["details"]["payment_id"], payment["id"]);
        let voided = app.void_payment(token, &payment["id"]).await.ok();
        assert_eq!(voided["payment"]["status"], "voided");
        for call in [
            app.capture_payment(token, &payment["id"]),
            app.void_payment(token, &payment["id"]),
            app.refund_payment(token, &payment["id"]),
        ] {
            refused(call.await, "voided");
        }
        let payment = card(&order).await.ok()["payment"].clone();
        refused(
            app.refund_payment(token, &payment["id"]).await,
            "authorized",
        );
        app.capture_payment(token, &payment["id"]).await.ok();
        refused(app.void_payment(token, &payment["id"]).await, "captured");
        refused(app.cancel_order(token, &order["id"]).await, "paid");
        let fulfilled = app.fulfill_order(token, &order["id"]).await.ok();
        assert_eq!(fulfilled["order"]["status"], "fulfilled");
        for call in [
            app.cancel_order(token, &order["id"]),
            app.fulfill_order(token, &order["id"]),
        ] {
            refused(call.await, "fulfilled");
        }
        // fulfilled → refunded by a full refund; refunded: nothing more.
        app.refund_payment(token, &payment["id"]).await.ok();
        for call in [
            app.cancel_order(token, &order["id"]),
            app.fulfill_order(token, &order["id"]),
        ] {
            refused(call.await, "refunded");
        }
        refused(card(&order).await, "refunded");
    })
    .await;
}

/// A status filter pages through exactly the orders (and products) of
/// that status, in order, each once: the admin's of the whole tenant, a
/// member's of their own (each case its own statement, migration 0040).
#[tokio::test]
async fn a_status_filter_pages_through_exactly_that_status() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let alice: Member = app.join(&owner, "alice@example.com", "member").await;
        let product = app.new_product(&owner, "ST-1", 500, 100).await;
        let mut orders = Vec::new();
        for i in 0..7 {
            let token = if i % 2 == 0 {
                &alice.access_token
            } else {
                &owner.access_token
            };
            let order =
                app.create_order(token, &[(&product["id"], 1)]).await.ok()["order"]["id"].clone();
            orders.push(order);
        }
        // Cancelled: 0 (alice's), 1 (the owner's), 4 (alice's), 5 (the
        // owner's); the rest pending payment.
        for i in [0, 1, 4, 5] {
            app.cancel_order(&owner.access_token, &orders[i]).await.ok();
        }
        let all_pages = async |token: &str, status: Option<&str>| {
            let mut call = app.list_orders(token).with("limit", 2);
            if let Some(status) = status {
                call = call.with("status", status);
            }
            let orders = call.every_page().await;
            for order in &orders {
                if let Some(status) = status {
                    assert_eq!(order["status"], status, "{order}");
                }
            }
            orders.iter().map(|o| o["id"].clone()).collect::<Vec<_>>()
        };
        let pick = |which: &[usize]| which.iter().map(|&i| orders[i].clone()).collect::<Vec<_>>();
        let admin = owner.access_token.as_str();
        assert_eq!(all_pages(admin, None).await, pick(&[0, 1, 2, 3, 4, 5, 6]));
        assert_eq!(
            all_pages(admin, Some("cancelled")).await,
            pick(&[0, 1, 4, 5])
        );
        assert_eq!(
            all_pages(admin, Some("pending_payment")).await,
            pick(&[2, 3, 6])
        );
        assert_eq!(all_pages(admin, Some("paid")).await, pick(&[]));
        let alices = alice.access_token.as_str();
        assert_eq!(all_pages(alices, None).await, pick(&[0, 2, 4, 6]));
        assert_eq!(all_pages(alices, Some("cancelled")).await, pick(&[0, 4]));
        assert_eq!(
            all_pages(alices, Some("pending_payment")).await,
            pick(&[2, 6])
        );

        // Products without a search term, likewise.
        let mut products = vec![product["id"].clone()];
        for i in 2..=5 {
            let p = app.new_product(&owner, &format!("ST-{i}"), 500, 1).await;
            products.push(p["id"].clone());
        }
        for i in [1, 3] {
            app.update_product(admin, &products[i])
                .with("status", "archived")
                .await
                .ok();
        }
        let product_pages = async |status: Option<&str>| {
            let mut call = app.list_products(alices).with("limit", 2);
            if let Some(status) = status {
                call = call.with("status", status);
            }
            let items = call.every_page().await;
            items.iter().map(|p| p["id"].clone()).collect::<Vec<_>>()
        };
        let chosen = |which: &[usize]| {
            which
                .iter()
                .map(|&i| products[i].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(product_pages(None).await, chosen(&[0, 1, 2, 3, 4]));
        assert_eq!(product_pages(Some("archived")).await, chosen(&[1, 3]));
        assert_eq!(product_pages(Some("active")).await, chosen(&[0, 2, 4]));
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
            app.list_orders(token).await.ok()["items"]
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
        for call in [
            app.get_order(&alice.access_token, &bobs["id"]),
            app.cancel_order(&alice.access_token, &bobs["id"]),
        ] {
            call.await.err(404, "not_found");
        }
        app.authorize_payment(&alice.access_token, &bobs["id"], "card", "tok_visa")
            .await
            .err(404, "not_found");
        // Members pay, admins capture.
        let payment = app
            .authorize_payment(&alice.access_token, &alices["id"], "card", "tok_visa")
            .await
            .ok()["payment"]
            .clone();
        app.capture_payment(&alice.access_token, &payment["id"])
            .await
            .err(403, "forbidden");
        app.cancel_order(&bob.access_token, &bobs["id"]).await.ok();

        let other = app.signup(Encoding::Json).await;
        let token = &other.access_token;
        for call in [
            app.get_order(token, &alices["id"]),
            app.fulfill_order(token, &alices["id"]),
            app.capture_payment(token, &payment["id"]),
            app.refund_payment(token, &payment["id"]),
        ] {
            call.await.err(404, "not_found");
        }
        assert!(list(&other.access_token).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_second_line_of_one_product_is_refused_by_name_not_answered_internal() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let p = app.new_product(&owner, "TWICE", 100, 20_000).await;
        let other = app.new_product(&owner, "ONCE", 100, 10).await;
        let refused = app
            .create_order(
                &owner.access_token,
                &[(&p["id"], 10_000), (&other["id"], 1), (&p["id"], 6_000)],
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
        let token = &owner.access_token;
        // 200 four-byte characters, the longest name a product may have.
        let name = "\u{1D11E}".repeat(200);
        let mut ids = Vec::new();
        for i in 0..100 {
            let sku = format!("{i:0>3}-{}", "S".repeat(60));
            let created = app
                .create_product(token, &sku, &name, money(999_999, "EUR"))
                .with("stock", 10_000)
                .encoded(Encoding::MsgPack)
                .await
                .ok();
            ids.push(created["product"]["id"].clone());
        }
        let lines: Vec<(&Value, i64)> = ids.iter().map(|id| (id, 10_000)).collect();
        let field = "\u{1F600}".repeat(200);
        let address = json!({"name": field, "line1": field, "line2": field, "city": field,
                             "region": field, "postal_code": "12345678901234567890",
                             "country": "DE"});
        let placed = app
            .create_order(token, &lines)
            .with("shipping_address", &address)
            .with("billing_address", &address)
            .with("contact_phone", "+4930123456")
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
        app.cancel_order(token, &placed["order"]["id"]).await.ok();
        app.events(Some(&owner.tenant_id), Some("order.cancelled"), 1)
            .await;
    })
    .await;
}

#[tokio::test]
async fn stock_stays_within_one_bound_on_every_path_that_changes_it() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = &owner.access_token;
        let p = app.new_product(&owner, "BOUNDED", 100, 10_000).await;
        let adjust = |delta: i64| app.adjust_inventory(token, &p["id"], delta);
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
        let order = app.create_order(token, &[(&p["id"], 10_000)]).await.ok();
        assert_eq!(stock(app, &p["id"]).await, 0);
        adjust(1_000_000_000).await.ok();
        let over = adjust(1).await.err(409, "invalid_state");
        assert_eq!(over["details"]["state"], "stock_limit");
        assert_eq!(over["details"]["stock"], 1_000_000_000);
        // Cancelling would give 10,000 units back past the maximum: refused
        // the same way, and nothing changes.
        let cancel = app
            .cancel_order(token, &order["order"]["id"])
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
        app.cancel_order(token, &order["order"]["id"]).await.ok();
        assert_eq!(stock(app, &p["id"]).await, 10_000);
        // Every adjust after all this still works.
        adjust(5).await.ok();
    })
    .await;
}
