//! Carts and checkout (contract §5 commerce, revision 3): a member's own
//! cart, priced live, checked out into an order with its stock, its
//! promotion counted and, with a card, its payment.

use olympus_tests::ops::money;
use olympus_tests::{with_app, Encoding, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

/// A new cart of `token`'s: its id.
async fn cart(app: &TestApp, token: &str) -> Value {
    app.create_cart(token).await.ok()["cart"]["id"].clone()
}

/// The stock of the variant `id`, read as the superuser.
async fn stock(app: &TestApp, id: &Value) -> i64 {
    let id: uuid::Uuid = id.as_str().unwrap().parse().unwrap();
    sqlx::query_scalar("SELECT stock FROM product_variants WHERE id = $1")
        .bind(id)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

fn card(token: &str) -> Value {
    json!({"type": "card", "token": token})
}

#[tokio::test]
async fn a_cart_is_its_members_alone_and_priced_live() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let admin = app.join(&owner, "ada@example.com", "admin").await;
        let bob = app.join(&owner, "bob@example.com", "member").await;
        let other = app.signup(Encoding::Json).await;
        let mug = app.new_product(&owner, "MUG", 1250, 5).await;
        let tea = app.new_product(&owner, "TEA", 399, 50).await;
        let token = bob.access_token.as_str();

        // Empty: nothing in no currency (XXX), open for 30 days.
        let created = app.create_cart(token).encoded(Encoding::MsgPack).await.ok();
        let empty = &created["cart"];
        let mut keys: Vec<&str> = empty
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "billing_address",
                "contact_phone",
                "created_at",
                "customer_id",
                "discount_total",
                "expires_at",
                "id",
                "items",
                "promotion_applies",
                "promotion_code",
                "shipping_address",
                "status",
                "subtotal",
                "total",
                "updated_at"
            ]
        );
        assert_eq!(empty["status"], "open");
        assert_eq!(empty["customer_id"], json!(bob.user_id));
        assert_eq!(empty["items"], json!([]));
        assert_eq!(empty["subtotal"], money(0, "XXX"));
        assert_eq!(empty["total"], money(0, "XXX"));
        assert_eq!(empty["promotion_applies"], false);
        let created_at: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(empty["created_at"].clone()).unwrap();
        let expires_at: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(empty["expires_at"].clone()).unwrap();
        assert_eq!(expires_at - created_at, chrono::Duration::days(30));
        let id = empty["id"].clone();

        // Lines in the order they were added; a second set replaces the
        // quantity; 0 removes.
        app.set_cart_item(token, &id, &mug["id"], 1).await.ok();
        app.set_cart_item(token, &id, &tea["id"], 3).await.ok();
        let cart = app.set_cart_item(token, &id, &mug["id"], 2).await.ok()["cart"].clone();
        assert_eq!(
            cart["items"],
            json!([
                {"variant_id": mug["id"], "product_id": mug["id"], "sku": "MUG",
                 "name": "Product MUG", "option_values": {}, "unit_price": money(1250, "EUR"),
                 "quantity": 2, "line_total": money(2500, "EUR")},
                {"variant_id": tea["id"], "product_id": tea["id"], "sku": "TEA",
                 "name": "Product TEA", "option_values": {}, "unit_price": money(399, "EUR"),
                 "quantity": 3, "line_total": money(1197, "EUR")},
            ])
        );
        assert_eq!(cart["subtotal"], money(3697, "EUR"));
        assert_eq!(cart["total"], money(3697, "EUR"));
        // No stock is reserved.
        assert_eq!(stock(app, &mug["id"]).await, 5);

        // Priced live: the owner's new price is in the next read.
        app.update_product(&owner.access_token, &mug["id"])
            .with("price", money(1500, "EUR"))
            .await
            .ok();
        let cart = app.get_cart(token, &id).await.ok()["cart"].clone();
        assert_eq!(cart["items"][0]["unit_price"], money(1500, "EUR"));
        assert_eq!(cart["subtotal"], money(4197, "EUR"));

        // Bounds and refusals, each naming its field; the cart unchanged.
        for quantity in [-1, 10_001] {
            let err = app.set_cart_item(token, &id, &tea["id"], quantity).await;
            let err = err.err(422, "validation_failed");
            assert!(err["details"]["fields"]["quantity"].is_array(), "{err}");
        }
        let unknown = uuid::Uuid::now_v7();
        app.set_cart_item(token, &id, unknown, 1)
            .await
            .err(404, "not_found");
        let usd = app
            .create_product(
                &owner.access_token,
                "USD-MUG",
                "Mug (US)",
                money(1500, "USD"),
            )
            .await
            .ok()["product"]
            .clone();
        let err = app.set_cart_item(token, &id, &usd["id"], 1).await;
        let err = err.err(422, "validation_failed");
        assert!(err["details"]["fields"]["variant_id"][0]
            .as_str()
            .unwrap()
            .contains("one currency"));
        app.update_product(&owner.access_token, &usd["id"])
            .with("status", "archived")
            .await
            .ok();
        let err = app.set_cart_item(token, &id, &usd["id"], 1).await;
        assert_eq!(
            err.err(422, "validation_failed")["details"]["fields"]["variant_id"],
            json!(["is archived"])
        );
        app.set_cart_item(token, &id, &tea["id"], 0).await.ok();
        let cart = app.get_cart(token, &id).await.ok()["cart"].clone();
        assert_eq!(cart["items"].as_array().unwrap().len(), 1);

        // Another member, an admin, the owner, another tenant: not_found,
        // for every cart operation.
        for stranger in [
            owner.access_token.as_str(),
            admin.access_token.as_str(),
            other.access_token.as_str(),
        ] {
            app.get_cart(stranger, &id).await.err(404, "not_found");
            app.set_cart_item(stranger, &id, &mug["id"], 1)
                .await
                .err(404, "not_found");
            app.update_cart(stranger, &id)
                .with("contact_phone", "+4930123456")
                .await
                .err(404, "not_found");
            app.checkout(stranger, &id).await.err(404, "not_found");
        }
        let after = app.get_cart(token, &id).await.ok()["cart"].clone();
        assert_eq!(after["items"], cart["items"]);
        assert_eq!(after["contact_phone"], Value::Null);

        // A line whose price moves to another currency shows it, is not
        // summed (no sum of two currencies), and stops the checkout.
        let swap = app.new_product(&owner, "SWAP", 100, 5).await;
        app.set_cart_item(token, &id, &swap["id"], 1).await.ok();
        app.update_product(&owner.access_token, &swap["id"])
            .with("price", money(200, "USD"))
            .await
            .ok();
        let mixed = app.get_cart(token, &id).await.ok()["cart"].clone();
        assert_eq!(mixed["items"][1]["unit_price"], money(200, "USD"));
        assert_eq!(mixed["subtotal"], cart["subtotal"]);
        let err = app.checkout(token, &id).await.err(422, "validation_failed");
        assert!(err["details"]["fields"]["items"].is_array(), "{err}");
        app.set_cart_item(token, &id, &swap["id"], 0).await.ok();

        // 100 lines at most.
        let big = self::cart(app, token).await;
        for i in 0..100 {
            let p = app.new_product(&owner, &format!("BULK-{i}"), 100, 1).await;
            app.set_cart_item(token, &big, &p["id"], 1).await.ok();
        }
        let err = app.set_cart_item(token, &big, &mug["id"], 1).await;
        assert!(
            err.err(422, "validation_failed")["details"]["fields"]["variant_id"][0]
                .as_str()
                .unwrap()
                .contains("100 lines")
        );
        let full = app.get_cart(token, &big).await.ok()["cart"].clone();
        assert_eq!(full["items"].as_array().unwrap().len(), 100);
        assert_eq!(full["subtotal"], money(10_000, "EUR"));
    })
    .await;
}

#[tokio::test]
async fn a_cart_left_thirty_days_without_a_change_expires() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = owner.access_token.as_str();
        let mug = app.new_product(&owner, "MUG", 1250, 5).await;
        let id = cart(app, token).await;
        app.set_cart_item(token, &id, &mug["id"], 1).await.ok();
        let day = Duration::from_secs(24 * 3600);
        // Tokens do not last a month: each jump signs in again.
        let relogin = async || -> String {
            let session = app
                .login(&owner.slug, &owner.email, &owner.password)
                .await
                .ok();
            session["tokens"]["access_token"]
                .as_str()
                .unwrap()
                .to_owned()
        };

        app.clock.advance(day * 29);
        let fresh = relogin().await;
        let token = fresh.as_str();
        // Reads are no change; a change starts the 30 days again.
        assert_eq!(
            app.get_cart(token, &id).await.ok()["cart"]["status"],
            "open"
        );
        app.update_cart(token, &id)
            .with("contact_phone", "+4930123456")
            .await
            .ok();
        app.clock.advance(day * 29);
        let fresh = relogin().await;
        let token = fresh.as_str();
        assert_eq!(
            app.get_cart(token, &id).await.ok()["cart"]["status"],
            "open"
        );
        app.clock.advance(day * 2);
        let fresh = relogin().await;
        let token = fresh.as_str();
        let expired = app.get_cart(token, &id).await.ok()["cart"].clone();
        assert_eq!(expired["status"], "expired");
        assert_eq!(expired["contact_phone"], "+4930123456");

        let state = |reply: olympus_tests::Reply| {
            reply.err(409, "invalid_state")["details"]["state"].clone()
        };
        assert_eq!(
            state(app.set_cart_item(token, &id, &mug["id"], 2).await),
            "expired"
        );
        assert_eq!(
            state(
                app.update_cart(token, &id)
                    .with("contact_phone", Value::Null)
                    .await
            ),
            "expired"
        );
        assert_eq!(
            state(app.checkout(token, &id).key("expired-1").await),
            "expired"
        );
        assert_eq!(stock(app, &mug["id"]).await, 5);
    })
    .await;
}

#[tokio::test]
async fn a_checkout_places_the_order_of_every_line_or_none() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let bob = app.join(&owner, "bob@example.com", "member").await;
        let token = bob.access_token.as_str();
        let mug = app.new_product(&owner, "MUG", 1250, 5).await;
        let tea = app.new_product(&owner, "TEA", 399, 2).await;
        let address = json!({"name": "Bob", "line1": "Unter den Linden 1", "line2": null,
                             "city": "Berlin", "region": null, "postal_code": "10117",
                             "country": "DE"});

        // Empty: nothing to check out.
        let empty = cart(app, token).await;
        let err = app.checkout(token, &empty).await.err(409, "invalid_state");
        assert_eq!(err["details"]["state"], "empty");

        let id = cart(app, token).await;
        app.set_cart_item(token, &id, &mug["id"], 2).await.ok();
        app.set_cart_item(token, &id, &tea["id"], 3).await.ok();
        let updated = app
            .update_cart(token, &id)
            .with("shipping_address", &address)
            .with("billing_address", &address)
            .with("contact_phone", "+4930123456")
            .encoded(Encoding::MsgPack)
            .await
            .ok();
        assert_eq!(updated["cart"]["shipping_address"]["city"], "Berlin");
        // nil removes; absent stays.
        let updated = app
            .update_cart(token, &id)
            .with("billing_address", Value::Null)
            .await
            .ok();
        assert_eq!(updated["cart"]["billing_address"], Value::Null);
        assert_eq!(updated["cart"]["shipping_address"]["city"], "Berlin");

        // The tea is short: nothing is taken, the short line is named, the
        // cart stays open.
        let err = app.checkout(token, &id).key("co-1").await;
        let err = err.err(409, "insufficient_stock");
        assert_eq!(
            err["details"]["items"],
            json!([{"product_id": tea["id"], "variant_id": tea["id"], "requested": 3,
                    "available": 2}])
        );
        assert_eq!(stock(app, &mug["id"]).await, 5);
        assert_eq!(
            app.get_cart(token, &id).await.ok()["cart"]["status"],
            "open"
        );

        app.set_cart_item(token, &id, &tea["id"], 2).await.ok();
        let placed = app.checkout(token, &id).key("co-2").await.ok();
        assert_eq!(
            placed.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["order"]
        );
        let order = &placed["order"];
        assert_eq!(order["cart_id"], id);
        assert_eq!(order["customer_id"], json!(bob.user_id));
        assert_eq!(order["status"], "pending_payment");
        assert_eq!(order["subtotal"], money(3298, "EUR"));
        assert_eq!(order["discount_total"], money(0, "EUR"));
        assert_eq!(order["total"], money(3298, "EUR"));
        assert_eq!(order["promotion_code"], Value::Null);
        assert_eq!(order["shipping_address"], address);
        assert_eq!(order["billing_address"], Value::Null);
        assert_eq!(order["contact_phone"], "+4930123456");
        assert_eq!(order["items"][0]["variant_id"], mug["id"]);
        assert_eq!(order["items"][1]["quantity"], 2);
        assert_eq!(
            (stock(app, &mug["id"]).await, stock(app, &tea["id"]).await),
            (3, 0)
        );

        // Retried with its key: the stored reply. Without: a closed cart.
        assert_eq!(app.checkout(token, &id).key("co-2").await.ok(), placed);
        let err = app
            .checkout(token, &id)
            .key("co-3")
            .await
            .err(409, "invalid_state");
        assert_eq!(err["details"]["state"], "checked_out");
        let state = |reply: olympus_tests::Reply| {
            reply.err(409, "invalid_state")["details"]["state"].clone()
        };
        assert_eq!(
            state(app.set_cart_item(token, &id, &mug["id"], 1).await),
            "checked_out"
        );
        assert_eq!(
            app.get_cart(token, &id).await.ok()["cart"]["status"],
            "checked_out"
        );
        assert_eq!(
            (stock(app, &mug["id"]).await, stock(app, &tea["id"]).await),
            (3, 0)
        );

        // Its events: the order, then the cart closed.
        let events = app
            .events(Some(&owner.tenant_id), Some("cart.checked_out"), 1)
            .await;
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].body["data"],
            json!({"cart_id": id, "order_id": order["id"], "customer_id": bob.user_id,
                   "promotion_code": null, "subtotal": money(3298, "EUR"),
                   "discount_total": money(0, "EUR"), "total": money(3298, "EUR")})
        );
        let placed_events = app
            .events(Some(&owner.tenant_id), Some("order.placed"), 1)
            .await;
        assert_eq!(placed_events[0].body["data"]["order"], *order);
    })
    .await;
}

#[tokio::test]
async fn a_checkout_with_a_card_authorizes_the_total_after_the_order() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = owner.access_token.as_str();
        let mug = app.new_product(&owner, "MUG", 1250, 10).await;

        let id = cart(app, token).await;
        app.set_cart_item(token, &id, &mug["id"], 2).await.ok();
        let paid = app
            .checkout(token, &id)
            .with("payment_method", card("tok_visa"))
            .key("pay-1")
            .encoded(Encoding::MsgPack)
            .await
            .ok();
        let payment = &paid["payment"];
        assert_eq!(payment["status"], "authorized");
        assert_eq!(payment["order_id"], paid["order"]["id"]);
        assert_eq!(payment["amount"], money(2500, "EUR"));
        assert_eq!(paid["order"]["status"], "pending_payment");
        // The stored reply is the final one, payment included.
        let again = app
            .checkout(token, &id)
            .with("payment_method", card("tok_visa"))
            .key("pay-1")
            .await
            .ok();
        assert_eq!(again, paid);
        app.capture_payment(token, &payment["id"]).await.ok();

        // Declined: a failed payment, the order kept, pending payment.
        let id = cart(app, token).await;
        app.set_cart_item(token, &id, &mug["id"], 1).await.ok();
        let declined = app
            .checkout(token, &id)
            .with("payment_method", card("tok_chargeDeclined"))
            .await
            .ok();
        assert_eq!(declined["payment"]["status"], "failed");
        assert_eq!(declined["order"]["status"], "pending_payment");
        assert_eq!(stock(app, &mug["id"]).await, 7);
        let retry = app
            .authorize_payment(token, &declined["order"]["id"], "card", "tok_visa")
            .await
            .ok();
        assert_eq!(retry["payment"]["status"], "authorized");

        // A bad method is refused before anything happens.
        let id = cart(app, token).await;
        app.set_cart_item(token, &id, &mug["id"], 1).await.ok();
        let err = app
            .checkout(token, &id)
            .with("payment_method", json!({"type": "cash", "token": ""}))
            .await
            .err(422, "validation_failed");
        let fields = &err["details"]["fields"];
        assert!(
            fields["payment_method.type"].is_array() && fields["payment_method.token"].is_array()
        );
        assert_eq!(
            app.get_cart(token, &id).await.ok()["cart"]["status"],
            "open"
        );

        // The order committed and its reply was lost before the payment
        // (the state a crash between the two commits leaves): the retry
        // with the same key and request finishes the payment, once; any
        // other checkout finds the cart closed.
        let body_card = card("tok_visa");
        let first = app
            .checkout(token, &id)
            .with("payment_method", &body_card)
            .key("pay-gap")
            .await
            .ok();
        let order_id: uuid::Uuid = first["order"]["id"].as_str().unwrap().parse().unwrap();
        sqlx::query("DELETE FROM payments WHERE order_id = $1")
            .bind(order_id)
            .execute(app.db.pool())
            .await
            .unwrap();
        sqlx::query("DELETE FROM idempotency_keys WHERE key = 'pay-gap'")
            .execute(app.db.pool())
            .await
            .unwrap();
        // Another checkout (another key) finds the cart closed.
        let other_key = app
            .checkout(token, &id)
            .with("payment_method", &body_card)
            .key("pay-gap-2")
            .await
            .err(409, "invalid_state");
        assert_eq!(other_key["details"]["state"], "checked_out");
        let resumed = app
            .checkout(token, &id)
            .with("payment_method", &body_card)
            .key("pay-gap")
            .await
            .ok();
        assert_eq!(resumed["order"]["id"], first["order"]["id"]);
        assert_eq!(resumed["payment"]["status"], "authorized");
        assert_eq!(
            app.checkout(token, &id)
                .with("payment_method", &body_card)
                .key("pay-gap")
                .await
                .ok(),
            resumed
        );
        let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments WHERE order_id = $1")
            .bind(order_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(payments, 1);
        assert_eq!(stock(app, &mug["id"]).await, 6, "one order per checkout");
    })
    .await;
}

#[tokio::test]
async fn fifty_concurrent_checkouts_for_the_last_ten_units_sell_exactly_ten() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = owner.access_token.as_str();
        let last = app.new_product(&owner, "LAST", 500, 10).await;
        let mut carts = Vec::new();
        for _ in 0..50 {
            let id = cart(app, token).await;
            app.set_cart_item(token, &id, &last["id"], 1).await.ok();
            carts.push(id);
        }
        let replies = futures::future::join_all(carts.iter().enumerate().map(|(i, id)| {
            app.checkout(token, id)
                .key(&format!("last-{i}"))
                .send_until_served()
        }))
        .await;
        let mut sold = 0;
        for reply in &replies {
            if reply.status() == 200 {
                sold += 1;
            } else {
                let err = reply.err(409, "insufficient_stock");
                assert_eq!(err["details"]["items"][0]["available"], 0);
            }
        }
        assert_eq!(sold, 10);
        assert_eq!(stock(app, &last["id"]).await, 0);
        let closed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM carts WHERE status = 'checked_out' AND tenant_id = $1::uuid",
        )
        .bind(&owner.tenant_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(closed, 10, "the other 40 carts stay open");
    })
    .await;
}
