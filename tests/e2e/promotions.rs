//! Promotions (contract §5 commerce, revision 3): codes with a percentage
//! or a fixed amount off, dates, a minimum and usage limits, for owners and
//! admins. (Carts apply them and checkouts count them; see issue 32.)

use olympus_tests::ops::money;
use olympus_tests::{with_app, Encoding, Reply, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn promotions_are_created_read_listed_and_updated_by_owners_and_admins() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = owner.access_token.as_str();
        let created = app
            .create_promotion(token, " summer-25 ", 25)
            .with("min_subtotal", money(2000, "EUR"))
            .with("starts_at", "2026-06-01T00:00:00Z")
            .with("ends_at", "2026-09-01T00:00:00Z")
            .with("usage_limit", 100)
            .with("per_customer_limit", 1)
            .encoded(Encoding::MsgPack)
            .await
            .ok();
        let promotion = &created["promotion"];
        let mut keys: Vec<&str> = promotion
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "amount",
                "code",
                "created_at",
                "ends_at",
                "id",
                "kind",
                "min_subtotal",
                "per_customer_limit",
                "percent",
                "starts_at",
                "status",
                "times_used",
                "updated_at",
                "usage_limit"
            ]
        );
        assert_eq!(promotion["code"], "SUMMER-25", "stored upper case");
        assert_eq!(promotion["kind"], "percentage");
        assert_eq!(promotion["percent"], 25);
        assert_eq!(promotion["amount"], Value::Null);
        assert_eq!(
            promotion["min_subtotal"],
            json!({"amount": 2000, "currency": "EUR"})
        );
        assert_eq!(promotion["times_used"], 0);
        assert_eq!(promotion["status"], "active");

        // Codes are case-insensitive and unique per tenant.
        let taken = app
            .create_promotion(token, "Summer-25", 10)
            .await
            .err(409, "conflict");
        assert_eq!(taken["details"]["field"], "code");
        let other = app.signup(Encoding::Json).await;
        app.create_promotion(&other.access_token, "SUMMER-25", 10)
            .await
            .ok();

        let fixed = app
            .create_promotion(token, "FIVE-OFF", 1)
            .with("kind", "fixed_amount")
            .with("percent", Value::Null)
            .with("amount", money(500, "EUR"))
            .await
            .ok();
        assert_eq!(
            fixed["promotion"]["amount"],
            json!({"amount": 500, "currency": "EUR"})
        );
        assert_eq!(fixed["promotion"]["percent"], Value::Null);

        // Each wrong request names its field.
        for (body, field) in [
            (
                json!({"code": "AB", "kind": "percentage", "percent": 10}),
                "code",
            ),
            (
                json!({"code": "NO SPACES", "kind": "percentage", "percent": 10}),
                "code",
            ),
            (
                json!({"code": "ZERO", "kind": "percentage", "percent": 0}),
                "percent",
            ),
            (
                json!({"code": "TOO-MUCH", "kind": "percentage", "percent": 101}),
                "percent",
            ),
            (json!({"code": "NONE", "kind": "percentage"}), "percent"),
            (
                json!({"code": "BOTH", "kind": "fixed_amount", "percent": 5,
                    "amount": {"amount": 5, "currency": "EUR"}}),
                "percent",
            ),
            (
                json!({"code": "ALSO", "kind": "percentage", "percent": 5,
                    "amount": {"amount": 5, "currency": "EUR"}}),
                "amount",
            ),
            (json!({"code": "LACKING", "kind": "fixed_amount"}), "amount"),
            (
                json!({"code": "FREE", "kind": "fixed_amount",
                    "amount": {"amount": 0, "currency": "EUR"}}),
                "amount",
            ),
            (
                json!({"code": "MIXED", "kind": "fixed_amount",
                    "amount": {"amount": 5, "currency": "EUR"},
                    "min_subtotal": {"amount": 5, "currency": "USD"}}),
                "min_subtotal",
            ),
            (
                json!({"code": "BACKWARDS", "kind": "percentage", "percent": 5,
                    "starts_at": "2026-09-01T00:00:00Z", "ends_at": "2026-06-01T00:00:00Z"}),
                "ends_at",
            ),
            (
                json!({"code": "NEVER", "kind": "percentage", "percent": 5, "usage_limit": 0}),
                "usage_limit",
            ),
        ] {
            let refused = app
                .call(
                    Encoding::Json,
                    "commerce.v1.promotions.create",
                    Some(token),
                    body.clone(),
                )
                .await
                .err(422, "validation_failed");
            assert!(
                refused["details"]["fields"][field].is_array(),
                "{body}: {refused}"
            );
        }

        // Read, listed, updated.
        let id = &promotion["id"];
        assert_eq!(
            app.get_promotion(token, id).await.ok()["promotion"],
            *promotion
        );
        let updated = app
            .update_promotion(token, id)
            .with("status", "disabled")
            .with("usage_limit", 5)
            .with("ends_at", "2026-08-01T00:00:00Z")
            .await
            .ok();
        assert_eq!(updated["promotion"]["status"], "disabled");
        assert_eq!(updated["promotion"]["usage_limit"], 5);
        assert_eq!(updated["promotion"]["ends_at"], "2026-08-01T00:00:00Z");
        assert_eq!(updated["promotion"]["percent"], 25, "the rest stays");
        for limit in [0_u64, 3_000_000_000] {
            let refused = app
                .update_promotion(token, id)
                .with("usage_limit", limit)
                .await
                .err(422, "validation_failed");
            assert!(
                refused["details"]["fields"]["usage_limit"].is_array(),
                "{refused}"
            );
        }
        // Nil removes the end and the limit; absent fields stay.
        let cleared = app
            .update_promotion(token, id)
            .with("usage_limit", Value::Null)
            .with("ends_at", Value::Null)
            .await
            .ok();
        assert_eq!(cleared["promotion"]["usage_limit"], Value::Null);
        assert_eq!(cleared["promotion"]["ends_at"], Value::Null);
        assert_eq!(cleared["promotion"]["status"], "disabled");
        app.update_promotion(token, id)
            .with("usage_limit", 5)
            .with("ends_at", "2026-08-01T00:00:00Z")
            .await
            .ok();
        app.update_promotion(token, id)
            .with("ends_at", "2026-05-01T00:00:00Z")
            .await
            .err(422, "validation_failed");
        let all = app.list_promotions(token).await.ok();
        assert_eq!(all["items"].as_array().unwrap().len(), 2);
        let disabled = app
            .list_promotions(token)
            .with("status", "disabled")
            .await
            .ok();
        let codes: Vec<&Value> = disabled["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["code"])
            .collect();
        assert_eq!(codes, [&json!("SUMMER-25")]);
        let page = app.list_promotions(token).with("limit", 1).await.ok();
        let next = app
            .list_promotions(token)
            .with("limit", 1)
            .with("cursor", &page["next_cursor"])
            .await
            .ok();
        assert_eq!(next["items"][0]["code"], "FIVE-OFF");

        // Another tenant's is not found; members may not see any.
        app.get_promotion(&other.access_token, id)
            .await
            .err(404, "not_found");
        let member = app
            .join(&owner, &format!("m-{}", owner.email), "member")
            .await;
        app.list_promotions(&member.access_token)
            .await
            .err(403, "forbidden");
        app.get_promotion(&member.access_token, id)
            .await
            .err(403, "forbidden");

        // Their events.
        let created = app
            .events(Some(&owner.tenant_id), Some("promotion.created"), 2)
            .await;
        assert_eq!(created.len(), 2);
        assert_eq!(created[0].body["data"]["promotion"]["code"], "SUMMER-25");
        let changed = app
            .events(Some(&owner.tenant_id), Some("promotion.updated"), 1)
            .await;
        assert_eq!(changed[0].body["data"]["promotion"]["status"], "disabled");
    })
    .await;
}

/// A cart of `token`'s with `quantity` of `variant`: its id.
async fn cart_with(app: &TestApp, token: &str, variant: &Value, quantity: i64) -> Value {
    let id = app.create_cart(token).await.ok()["cart"]["id"].clone();
    app.set_cart_item(token, &id, variant, quantity).await.ok();
    id
}

/// Sets `code` on the cart `id`: the reply.
async fn set_code(app: &TestApp, token: &str, id: &Value, code: impl serde::Serialize) -> Reply {
    app.update_cart(token, id)
        .with("promotion_code", code)
        .await
}

/// The promotion `code`'s `times_used`, as owners read it.
async fn times_used(app: &TestApp, owner: &str, id: &Value) -> Value {
    app.get_promotion(owner, id).await.ok()["promotion"]["times_used"].clone()
}

#[tokio::test]
async fn a_code_applies_to_a_cart_only_where_it_may_and_rounds_down() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let admin = owner.access_token.as_str();
        let bob = app.join(&owner, "bob@example.com", "member").await;
        let carol = app.join(&owner, "carol@example.com", "member").await;
        let token = bob.access_token.as_str();
        let tea = app.new_product(&owner, "TEA", 333, 100).await;
        let create = |code: &'static str| app.create_promotion(admin, code, 10);
        create("P15").with("percent", 15).await.ok();
        create("MIN")
            .with("min_subtotal", money(5000, "EUR"))
            .await
            .ok();
        create("USD-OFF")
            .with("kind", "fixed_amount")
            .with("percent", Value::Null)
            .with("amount", money(100, "USD"))
            .await
            .ok();
        create("FIVE-OFF")
            .with("kind", "fixed_amount")
            .with("percent", Value::Null)
            .with("amount", money(500, "EUR"))
            .await
            .ok();
        let off = create("OFF").await.ok()["promotion"]["id"].clone();
        app.update_promotion(admin, &off)
            .with("status", "disabled")
            .await
            .ok();
        create("LATER")
            .with("starts_at", "2030-01-01T00:00:00Z")
            .await
            .ok();
        create("PAST")
            .with("starts_at", "2020-01-01T00:00:00Z")
            .with("ends_at", "2020-02-01T00:00:00Z")
            .await
            .ok();
        create("ONCE").with("usage_limit", 1).await.ok();
        create("MINE").with("per_customer_limit", 1).await.ok();

        // 15 % of 3.33 EUR is 0.4995: 0.49 off. Codes match in any case.
        let id = cart_with(app, token, &tea["id"], 1).await;
        let cart = set_code(app, token, &id, "p15").await.ok()["cart"].clone();
        assert_eq!(cart["promotion_code"], "P15");
        assert_eq!(cart["promotion_applies"], true);
        assert_eq!(cart["subtotal"], money(333, "EUR"));
        assert_eq!(cart["discount_total"], money(49, "EUR"));
        assert_eq!(cart["total"], money(284, "EUR"));

        // Used up by others, and by Bob himself.
        let carols = cart_with(app, &carol.access_token, &tea["id"], 1).await;
        set_code(app, &carol.access_token, &carols, "ONCE")
            .await
            .ok();
        app.checkout(&carol.access_token, &carols).await.ok();
        let bobs = cart_with(app, token, &tea["id"], 1).await;
        set_code(app, token, &bobs, "MINE").await.ok();
        app.checkout(token, &bobs).await.ok();

        // Each way a code does not apply: refused on promotion_code, the
        // cart keeps its code.
        for (code, why) in [
            ("NOPE-1", "does not exist"),
            ("OFF", "is disabled"),
            ("LATER", "has not started"),
            ("PAST", "has ended"),
            ("MIN", "needs a larger subtotal"),
            ("USD-OFF", "is in another currency"),
            ("ONCE", "is used up"),
            ("MINE", "has been used by you"),
        ] {
            let err = set_code(app, token, &id, code)
                .await
                .err(422, "validation_failed");
            let message = err["details"]["fields"]["promotion_code"][0]
                .as_str()
                .unwrap();
            assert!(message.contains(why), "{code}: {message}");
        }
        let err = set_code(app, token, &id, "no spaces")
            .await
            .err(422, "validation_failed");
        assert!(err["details"]["fields"]["promotion_code"].is_array());
        let kept = app.get_cart(token, &id).await.ok()["cart"].clone();
        assert_eq!(
            (kept["promotion_code"].clone(), kept["total"].clone()),
            (json!("P15"), money(284, "EUR"))
        );
        // Carol has not used MINE.
        let carols = cart_with(app, &carol.access_token, &tea["id"], 1).await;
        set_code(app, &carol.access_token, &carols, "MINE")
            .await
            .ok();

        // A fixed amount never takes the total below zero.
        let cart = set_code(app, token, &id, "five-off").await.ok()["cart"].clone();
        assert_eq!(
            (cart["discount_total"].clone(), cart["total"].clone()),
            (money(333, "EUR"), money(0, "EUR"))
        );

        // A minimum met, then no longer: the code stays, without discount,
        // and the checkout is refused rather than charged another price.
        app.set_cart_item(token, &id, &tea["id"], 20).await.ok();
        let cart = set_code(app, token, &id, "MIN").await.ok()["cart"].clone();
        assert_eq!(cart["discount_total"], money(666, "EUR"));
        let cart = app.set_cart_item(token, &id, &tea["id"], 2).await.ok()["cart"].clone();
        assert_eq!(cart["promotion_code"], "MIN");
        assert_eq!(cart["promotion_applies"], false);
        assert_eq!(cart["discount_total"], money(0, "EUR"));
        assert_eq!(cart["total"], money(666, "EUR"));
        let err = app
            .checkout(token, &id)
            .key("min-1")
            .await
            .err(409, "invalid_state");
        assert_eq!(err["details"]["state"], "promotion_unavailable");
        assert_eq!(
            app.get_cart(token, &id).await.ok()["cart"]["status"],
            "open"
        );
        // nil removes the code; the checkout is at full price.
        let cart = set_code(app, token, &id, Value::Null).await.ok()["cart"].clone();
        assert_eq!(cart["promotion_code"], Value::Null);
        let order = app.checkout(token, &id).key("min-2").await.ok()["order"].clone();
        assert_eq!(order["total"], money(666, "EUR"));
        assert_eq!(order["promotion_code"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn a_checkout_counts_its_promotion_and_a_cancel_gives_the_use_back() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let admin = owner.access_token.as_str();
        let bob = app.join(&owner, "bob@example.com", "member").await;
        let token = bob.access_token.as_str();
        let mug = app.new_product(&owner, "MUG", 1999, 100).await;
        let mine = app
            .create_promotion(admin, "WELCOME", 20)
            .with("per_customer_limit", 1)
            .await
            .ok()["promotion"]["id"]
            .clone();

        // Disabled between the cart and its checkout: refused, nothing
        // taken, the cart open; enabled again, it goes through.
        let first = cart_with(app, token, &mug["id"], 2).await;
        set_code(app, token, &first, "welcome").await.ok();
        let second = cart_with(app, token, &mug["id"], 1).await;
        set_code(app, token, &second, "WELCOME").await.ok();
        app.update_promotion(admin, &mine)
            .with("status", "disabled")
            .await
            .ok();
        let cart = app.get_cart(token, &first).await.ok()["cart"].clone();
        assert_eq!(cart["promotion_applies"], false);
        let err = app
            .checkout(token, &first)
            .key("w-1")
            .await
            .err(409, "invalid_state");
        assert_eq!(err["details"]["state"], "promotion_unavailable");
        assert_eq!(times_used(app, admin, &mine).await, 0);
        app.update_promotion(admin, &mine)
            .with("status", "active")
            .await
            .ok();
        let order = app.checkout(token, &first).key("w-2").await.ok()["order"].clone();
        // 20 % of 39.98 EUR is 7.996: 7.99 off.
        assert_eq!(order["subtotal"], money(3998, "EUR"));
        assert_eq!(order["discount_total"], money(799, "EUR"));
        assert_eq!(order["total"], money(3199, "EUR"));
        assert_eq!(order["promotion_code"], "WELCOME");
        assert_eq!(times_used(app, admin, &mine).await, 1);
        let placed = app
            .events(Some(&owner.tenant_id), Some("order.placed"), 1)
            .await;
        let data = &placed[0].body["data"]["order"];
        assert_eq!(
            (
                data["subtotal"].clone(),
                data["discount_total"].clone(),
                data["promotion_code"].clone()
            ),
            (money(3998, "EUR"), money(799, "EUR"), json!("WELCOME"))
        );

        // Once per customer: the second cart's code stopped applying.
        let cart = app.get_cart(token, &second).await.ok()["cart"].clone();
        assert_eq!(cart["promotion_applies"], false);
        let err = app
            .checkout(token, &second)
            .key("w-3")
            .await
            .err(409, "invalid_state");
        assert_eq!(err["details"]["state"], "promotion_unavailable");

        // The first order cancelled: its use comes back, in all and Bob's.
        app.cancel_order(token, &order["id"]).await.ok();
        assert_eq!(times_used(app, admin, &mine).await, 0);
        let cart = app.get_cart(token, &second).await.ok()["cart"].clone();
        assert_eq!(cart["promotion_applies"], true);
        let order = app.checkout(token, &second).key("w-4").await.ok()["order"].clone();
        assert_eq!(order["discount_total"], money(399, "EUR"));
        assert_eq!(times_used(app, admin, &mine).await, 1);
    })
    .await;
}

#[tokio::test]
async fn twenty_concurrent_checkouts_of_a_code_limited_to_five_give_exactly_five_discounts() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = owner.access_token.as_str();
        let mug = app.new_product(&owner, "MUG", 1000, 100).await;
        let limited = app
            .create_promotion(token, "FIRST-FIVE", 50)
            .with("usage_limit", 5)
            .await
            .ok()["promotion"]["id"]
            .clone();
        let mut carts = Vec::new();
        for _ in 0..20 {
            let id = cart_with(app, token, &mug["id"], 1).await;
            set_code(app, token, &id, "FIRST-FIVE").await.ok();
            carts.push(id);
        }
        let replies = futures::future::join_all(carts.iter().enumerate().map(|(i, id)| {
            let encoding = if i % 2 == 0 {
                Encoding::Json
            } else {
                Encoding::MsgPack
            };
            app.checkout(token, id)
                .key(&format!("five-{i}"))
                .encoded(encoding)
                .send_until_served()
        }))
        .await;
        let mut discounted = 0;
        for (reply, id) in replies.iter().zip(&carts) {
            if reply.status() == 200 {
                let order = &reply.ok()["order"];
                assert_eq!(order["promotion_code"], "FIRST-FIVE");
                assert_eq!(
                    order["total"],
                    money(500, "EUR"),
                    "never a silent full price"
                );
                discounted += 1;
            } else {
                let err = reply.err(409, "invalid_state");
                assert_eq!(err["details"]["state"], "promotion_unavailable");
                let cart = app.get_cart(token, id).await.ok()["cart"].clone();
                assert_eq!(cart["status"], "open");
            }
        }
        assert_eq!(discounted, 5);
        assert_eq!(times_used(app, token, &limited).await, 5);
        let orders: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM orders WHERE tenant_id = $1::uuid AND promotion_code IS NOT NULL",
        )
        .bind(&owner.tenant_id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(orders, 5);
    })
    .await;
}

#[tokio::test]
async fn one_customers_concurrent_checkouts_use_a_code_only_as_often_as_it_allows() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let admin = owner.access_token.as_str();
        let bob = app.join(&owner, "bob@example.com", "member").await;
        let token = bob.access_token.as_str();
        let mug = app.new_product(&owner, "MUG", 1000, 100).await;
        let once = app
            .create_promotion(admin, "ONCE-EACH", 10)
            .with("per_customer_limit", 1)
            .await
            .ok()["promotion"]["id"]
            .clone();
        // Every cart shows the code applying: only the locked count can
        // refuse the others.
        let mut carts = Vec::new();
        for _ in 0..10 {
            let id = cart_with(app, token, &mug["id"], 1).await;
            let cart = set_code(app, token, &id, "ONCE-EACH").await.ok()["cart"].clone();
            assert_eq!(cart["promotion_applies"], true);
            carts.push(id);
        }
        let replies = futures::future::join_all(carts.iter().enumerate().map(|(i, id)| {
            app.checkout(token, id)
                .key(&format!("once-{i}"))
                .send_until_served()
        }))
        .await;
        let used: Vec<_> = replies.iter().filter(|r| r.status() == 200).collect();
        assert_eq!(used.len(), 1, "one use per customer");
        assert_eq!(used[0].ok()["order"]["total"], money(900, "EUR"));
        for reply in replies.iter().filter(|r| r.status() != 200) {
            let err = reply.err(409, "invalid_state");
            assert_eq!(err["details"]["state"], "promotion_unavailable");
        }
        assert_eq!(
            times_used(app, admin, &once).await,
            1,
            "nothing counted for the refused"
        );
        assert_eq!(
            app.get_product(admin, &mug["id"]).await.ok()["product"]["stock"],
            99
        );
    })
    .await;
}

#[tokio::test]
async fn cancels_and_checkouts_of_one_code_run_together_without_deadlock() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let admin = owner.access_token.as_str();
        let bob = app.join(&owner, "bob@example.com", "member").await;
        let token = bob.access_token.as_str();
        let code =
            app.create_promotion(admin, "TOGETHER", 10).await.ok()["promotion"]["id"].clone();
        // Orders and carts of other variants: they share only the code's
        // rows (the promotion's, and Bob's count).
        let mut orders = Vec::new();
        let mut carts = Vec::new();
        for i in 0..8 {
            let sold = app
                .new_product(&owner, &format!("SOLD-{i}"), 1000, 10)
                .await;
            let id = cart_with(app, token, &sold["id"], 1).await;
            set_code(app, token, &id, "TOGETHER").await.ok();
            orders.push(app.checkout(token, &id).await.ok()["order"]["id"].clone());
            let open = app
                .new_product(&owner, &format!("OPEN-{i}"), 1000, 10)
                .await;
            let id = cart_with(app, token, &open["id"], 1).await;
            set_code(app, token, &id, "TOGETHER").await.ok();
            carts.push(id);
        }
        assert_eq!(times_used(app, admin, &code).await, 8);
        let cancels = futures::future::join_all(
            orders
                .iter()
                .map(|id| app.cancel_order(token, id).send_until_served()),
        );
        let checkouts = futures::future::join_all(
            carts
                .iter()
                .map(|id| app.checkout(token, id).send_until_served()),
        );
        let (cancelled, checked_out) = tokio::join!(cancels, checkouts);
        for reply in cancelled.iter().chain(&checked_out) {
            reply.ok();
        }
        assert_eq!(times_used(app, admin, &code).await, 8);
    })
    .await;
}
