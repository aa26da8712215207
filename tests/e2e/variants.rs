//! Product variants (contract §5 commerce, revision 3): each one
//! combination of option values with its own SKU, price and stock; orders
//! and inventory name variants, and requests that name a product with one
//! variant keep working unchanged.

use olympus_tests::ops::money;
use olympus_tests::{with_app, Encoding, Signup, TestApp};
use serde_json::{json, Value};

async fn stock(app: &TestApp, variant_id: &Value) -> i64 {
    sqlx::query_scalar("SELECT stock FROM product_variants WHERE id = $1::uuid")
        .bind(variant_id.as_str().unwrap())
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

/// A product of `sku` (12.00 EUR, 5 in stock).
async fn new_product(app: &TestApp, owner: &Signup, sku: &str) -> Value {
    app.create_product(&owner.access_token, sku, "Mug", money(1200, "EUR"))
        .with("stock", 5)
        .await
        .ok()["product"]
        .clone()
}

fn variant<'a>(product: &'a Value, sku: &str) -> &'a Value {
    product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] == sku)
        .unwrap_or_else(|| panic!("no variant {sku} in {product}"))
}

#[tokio::test]
async fn variants_have_their_own_sku_price_and_stock_and_one_variant_per_combination() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = owner.access_token.as_str();
        let mug = new_product(app, &owner, "MUG-1").await;
        // The first variant: the product's id, SKU, price and stock.
        assert_eq!(
            mug["variants"],
            json!([{"id": mug["id"], "sku": "MUG-1", "option_values": {},
                    "price": {"amount": 1200, "currency": "EUR"}, "stock": 5,
                    "status": "active"}])
        );
        assert_eq!(mug["options"], json!([]));

        let added = app
            .create_variant(
                token,
                &mug["id"],
                "MUG-1-M-RED",
                json!({"size": " M ", "color": "red"}),
                money(1300, "EUR"),
            )
            .with("stock", 3)
            .encoded(Encoding::MsgPack)
            .await
            .ok();
        let product = &added["product"];
        assert_eq!(product["variants"].as_array().unwrap().len(), 2);
        assert_eq!(
            product["variants"][0]["id"], mug["id"],
            "the first stays first"
        );
        let red = variant(product, "MUG-1-M-RED");
        assert_eq!(red["option_values"], json!({"color": "red", "size": "M"}));
        assert_eq!(red["price"], json!({"amount": 1300, "currency": "EUR"}));
        assert_eq!(red["stock"], 3);
        // The product's price and stock stay its first variant's.
        assert_eq!(product["price"]["amount"], 1200);
        assert_eq!(product["stock"], 5);
        assert_eq!(
            product["options"],
            json!([{"name": "color", "values": ["red"]}, {"name": "size", "values": ["M"]}])
        );
        let blue = app
            .create_variant(
                token,
                &mug["id"],
                "MUG-1-M-BLUE",
                json!({"size": "M", "color": "blue"}),
                money(1300, "EUR"),
            )
            .await
            .ok();
        assert_eq!(
            blue["product"]["options"],
            json!([{"name": "color", "values": ["red", "blue"]}, {"name": "size", "values": ["M"]}])
        );

        // One combination, one variant; one SKU in the tenant.
        let taken = app
            .create_variant(
                token,
                &mug["id"],
                "MUG-1-OTHER",
                json!({"color": "red", "size": "M"}),
                money(1, "EUR"),
            )
            .await
            .err(409, "conflict");
        assert_eq!(taken["details"]["field"], "option_values", "{taken}");
        let other = new_product(app, &owner, "PLATE-1").await;
        for sku in ["MUG-1", "MUG-1-M-RED", "PLATE-1"] {
            let taken = app
                .create_variant(
                    token,
                    &mug["id"],
                    sku,
                    json!({"color": "green", "size": "S"}),
                    money(1, "EUR"),
                )
                .await
                .err(409, "conflict");
            assert_eq!(taken["details"]["field"], "sku", "{sku}: {taken}");
        }
        let taken = app
            .create_product(token, "MUG-1-M-RED", "Not a mug", money(100, "EUR"))
            .await
            .err(409, "conflict");
        assert_eq!(taken["details"]["field"], "sku");

        // Bad option values, other options than the others', another currency.
        for (values, why) in [
            (json!({}), "no option"),
            (
                json!({"a": "1", "b": "2", "c": "3", "d": "4"}),
                "four options",
            ),
            (json!({"size": "S"}), "other options than the product's"),
            (
                json!({"size": "S", "colour": "red"}),
                "other options than the product's",
            ),
            (
                json!({"size": "x".repeat(41), "color": "red"}),
                "a value too long",
            ),
            (json!({"size": "", "color": "red"}), "an empty value"),
            (
                json!({"size": "S", "color": "red\u{7}"}),
                "a control character",
            ),
        ] {
            let refused = app
                .create_variant(token, &mug["id"], "MUG-1-BAD", values, money(1300, "EUR"))
                .await
                .err(422, "validation_failed");
            assert!(
                refused["details"]["fields"]["option_values"].is_array(),
                "{why}: {refused}"
            );
        }
        let refused = app
            .create_variant(
                token,
                &mug["id"],
                "MUG-1-USD",
                json!({"size": "L", "color": "red"}),
                money(1300, "USD"),
            )
            .await
            .err(422, "validation_failed");
        assert!(
            refused["details"]["fields"]["price"].is_array(),
            "{refused}"
        );
        app.create_variant(
            token,
            uuid::Uuid::now_v7(),
            "NOPE-1",
            json!({"size": "L"}),
            money(1, "EUR"),
        )
        .await
        .err(404, "not_found");

        // At most 20 values per option.
        for n in 1..=19 {
            app.create_variant(
                token,
                &other["id"],
                &format!("PLATE-{n}-X"),
                json!({"n": n.to_string()}),
                money(1200, "EUR"),
            )
            .await
            .ok();
        }
        app.create_variant(
            token,
            &other["id"],
            "PLATE-20-X",
            json!({"n": "20"}),
            money(1200, "EUR"),
        )
        .await
        .ok();
        let refused = app
            .create_variant(
                token,
                &other["id"],
                "PLATE-21-X",
                json!({"n": "21"}),
                money(1200, "EUR"),
            )
            .await
            .err(422, "validation_failed");
        assert!(
            refused["details"]["fields"]["option_values"].is_array(),
            "{refused}"
        );

        // Only owners and admins.
        let member = app
            .join(&owner, &format!("m-{}", owner.email), "member")
            .await;
        app.create_variant(
            &member.access_token,
            &mug["id"],
            "MUG-1-S",
            json!({"size": "S", "color": "red"}),
            money(1300, "EUR"),
        )
        .await
        .err(403, "forbidden");
        app.update_variant(&member.access_token, &red["id"])
            .with("status", "archived")
            .await
            .err(403, "forbidden");

        // An update: price and status.
        let updated = app
            .update_variant(token, &red["id"])
            .with("price", money(1400, "EUR"))
            .with("status", "archived")
            .await
            .ok();
        let red = variant(&updated["product"], "MUG-1-M-RED");
        assert_eq!(red["price"]["amount"], 1400);
        assert_eq!(red["status"], "archived");
        app.update_variant(token, &red["id"])
            .with("price", money(1400, "GBP"))
            .await
            .err(422, "validation_failed");

        // Their events, and products.list finds a variant's SKU.
        let created = app
            .events(Some(&owner.tenant_id), Some("product.variant_created"), 22)
            .await;
        let first = created
            .iter()
            .find(|e| e.body["data"]["variant"]["sku"] == "MUG-1-M-RED")
            .unwrap();
        assert_eq!(first.body["data"]["product_id"], mug["id"]);
        assert_eq!(first.body["data"]["variant"]["stock"], 3);
        let changed = app
            .events(Some(&owner.tenant_id), Some("product.variant_updated"), 1)
            .await;
        assert_eq!(changed[0].body["data"]["variant"]["status"], "archived");
        let found = app.list_products(token).with("q", "m-red").await.ok();
        let ids: Vec<&Value> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["id"])
            .collect();
        assert_eq!(ids, [&mug["id"]]);
    })
    .await;
}

#[tokio::test]
async fn orders_and_inventory_name_variants_and_products_of_one_variant_keep_working() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = owner.access_token.as_str();
        let mug = new_product(app, &owner, "MUG-1").await;
        let plain = &mug["id"];

        // A product with one variant: by product_id, as before revision 3.
        let order = app.create_order(token, &[(plain, 2)]).await.ok();
        let line = &order["order"]["items"][0];
        assert_eq!(line["product_id"], *plain);
        assert_eq!(line["variant_id"], *plain);
        assert_eq!(line["option_values"], json!({}));
        app.adjust_inventory(token, plain, 7).await.ok();
        assert_eq!(stock(app, plain).await, 10);

        // With a second variant, a product_id no longer says which.
        let added = app
            .create_variant(
                token,
                plain,
                "MUG-1-L",
                json!({"size": "L"}),
                money(1500, "EUR"),
            )
            .with("stock", 4)
            .await
            .ok();
        let large = variant(&added["product"], "MUG-1-L")["id"].clone();
        let refused = app
            .create_order(token, &[(plain, 1)])
            .await
            .err(422, "validation_failed");
        assert!(
            refused["details"]["fields"]["items[0].product_id"].is_array(),
            "{refused}"
        );
        let refused = app
            .adjust_inventory(token, plain, 1)
            .await
            .err(422, "validation_failed");
        assert!(
            refused["details"]["fields"]["product_id"].is_array(),
            "{refused}"
        );

        // By variant_id: its SKU, price and option values, the product's name.
        let placed = app
            .call(
                Encoding::MsgPack,
                "commerce.v1.orders.create",
                Some(token),
                json!({"items": [{"variant_id": large, "quantity": 3},
                                 {"variant_id": plain, "quantity": 1}]}),
            )
            .await
            .ok();
        let items = &placed["order"]["items"];
        assert_eq!(
            items[0],
            json!({"product_id": plain, "variant_id": large, "sku": "MUG-1-L", "name": "Mug",
                   "option_values": {"size": "L"},
                   "unit_price": {"amount": 1500, "currency": "EUR"}, "quantity": 3,
                   "line_total": {"amount": 4500, "currency": "EUR"}})
        );
        assert_eq!(placed["order"]["total"]["amount"], 4500 + 1200);
        // Revision 3's totals: no cart, no promotion, nothing off.
        assert_eq!(
            placed["order"]["subtotal"],
            json!({"amount": 5700, "currency": "EUR"})
        );
        assert_eq!(
            placed["order"]["discount_total"],
            json!({"amount": 0, "currency": "EUR"})
        );
        assert_eq!(placed["order"]["promotion_code"], Value::Null);
        assert_eq!(placed["order"]["cart_id"], Value::Null);
        assert_eq!((stock(app, &large).await, stock(app, plain).await), (1, 9));
        let adjusted = app
            .call(
                Encoding::Json,
                "commerce.v1.inventory.adjust",
                Some(token),
                json!({"variant_id": large, "delta": 5, "reason": "delivery"}),
            )
            .await
            .ok();
        assert_eq!(variant(&adjusted["product"], "MUG-1-L")["stock"], 6);
        let event = app
            .events(Some(&owner.tenant_id), Some("inventory.adjusted"), 2)
            .await;
        let event = event
            .iter()
            .find(|e| e.body["data"]["variant_id"] == large)
            .unwrap();
        assert_eq!(event.body["data"]["product_id"], *plain);
        assert_eq!(event.body["data"]["sku"], "MUG-1-L");
        assert_eq!(event.body["data"]["stock"], 6);

        // Short lines name their variant; nothing is reserved.
        let short = app
            .call(
                Encoding::Json,
                "commerce.v1.orders.create",
                Some(token),
                json!({"items": [{"variant_id": large, "quantity": 7}]}),
            )
            .await
            .err(409, "insufficient_stock");
        assert_eq!(
            short["details"]["items"],
            json!([{"product_id": plain, "variant_id": large, "requested": 7, "available": 6}])
        );
        // One line per variant, whichever way it is named; one of the two.
        for items in [
            json!([{"variant_id": plain, "quantity": 1}, {"product_id": plain, "quantity": 1}]),
            json!([{"variant_id": large, "product_id": plain, "quantity": 1}]),
            json!([{"quantity": 1}]),
        ] {
            app.call(
                Encoding::Json,
                "commerce.v1.orders.create",
                Some(token),
                json!({"items": items}),
            )
            .await
            .err(422, "validation_failed");
        }
        app.call(
            Encoding::Json,
            "commerce.v1.orders.create",
            Some(token),
            json!({"items": [{"variant_id": uuid::Uuid::now_v7(), "quantity": 1}]}),
        )
        .await
        .err(404, "not_found");

        // An archived variant cannot be ordered; cancelling gives stock back.
        app.update_variant(token, &large)
            .with("status", "archived")
            .await
            .ok();
        app.call(
            Encoding::Json,
            "commerce.v1.orders.create",
            Some(token),
            json!({"items": [{"variant_id": large, "quantity": 1}]}),
        )
        .await
        .err(422, "validation_failed");
        app.cancel_order(token, &placed["order"]["id"]).await.ok();
        assert_eq!((stock(app, &large).await, stock(app, plain).await), (9, 10));
        let got = app.get_order(token, &placed["order"]["id"]).await.ok();
        assert_eq!(got["order"]["items"][0]["variant_id"], large);
        assert_eq!(
            got["order"]["items"][0]["option_values"],
            json!({"size": "L"})
        );
    })
    .await;
}

/// 50 concurrent orders of one variant with 10 left: exactly 10 sell.
#[tokio::test]
async fn fifty_concurrent_orders_for_the_last_ten_units_of_a_variant_sell_exactly_ten() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = owner.access_token.as_str();
        let mug = new_product(app, &owner, "MUG-1").await;
        let added = app
            .create_variant(
                token,
                &mug["id"],
                "MUG-1-XL",
                json!({"size": "XL"}),
                money(1500, "EUR"),
            )
            .with("stock", 10)
            .await
            .ok();
        let xl = variant(&added["product"], "MUG-1-XL")["id"].clone();
        let orders = (0..50).map(|_| {
            // Overload's `unavailable` is sent again, as a client would.
            app.create_order(token, &[])
                .with("items", json!([{"variant_id": xl, "quantity": 1}]))
                .send_until_served()
        });
        let replies = futures::future::join_all(orders).await;
        let sold = replies.iter().filter(|r| r.status() == 200).count();
        let short = replies
            .iter()
            .filter(|r| r.status() == 409 && r.body()["code"] == "insufficient_stock")
            .count();
        assert_eq!((sold, short), (10, 40));
        assert_eq!(stock(app, &xl).await, 0);
        assert_eq!(
            stock(app, &mug["id"]).await,
            5,
            "the other variant untouched"
        );
    })
    .await;
}

/// The rules of a product's variants hold under concurrent requests: with
/// 19 values of an option, of 8 variants adding a new value at once one is
/// added; two updates of one variant at once both take effect.
#[tokio::test]
async fn variant_rules_and_updates_hold_under_concurrency() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let token = owner.access_token.as_str();
        let plate = new_product(app, &owner, "PLATE-1").await;
        for n in 1..=19 {
            app.create_variant(
                token,
                &plate["id"],
                &format!("PLATE-N{n}"),
                json!({"n": n.to_string()}),
                money(1200, "EUR"),
            )
            .await
            .ok();
        }
        let adds = (0..8).map(|i| {
            app.create_variant(
                token,
                &plate["id"],
                &format!("PLATE-X{i}"),
                json!({"n": format!("x{i}")}),
                money(1200, "EUR"),
            )
            .send()
        });
        let replies = futures::future::join_all(adds).await;
        let added = replies.iter().filter(|r| r.status() == 200).count();
        let refused = replies
            .iter()
            .filter(|r| {
                r.status() == 422 && r.body()["details"]["fields"]["option_values"].is_array()
            })
            .count();
        assert_eq!((added, refused), (1, 7));
        let product = app.get_product(token, &plate["id"]).await.ok();
        assert_eq!(
            product["product"]["options"][0]["values"]
                .as_array()
                .unwrap()
                .len(),
            20
        );

        let one = variant(&product["product"], "PLATE-N1")["id"].clone();
        let (price, status) = tokio::join!(
            app.update_variant(token, &one)
                .with("price", money(999, "EUR"))
                .send(),
            app.update_variant(token, &one)
                .with("status", "archived")
                .send(),
        );
        assert_eq!((price.status(), status.status()), (200, 200));
        let product = app.get_product(token, &plate["id"]).await.ok();
        let one = variant(&product["product"], "PLATE-N1");
        assert_eq!(
            (one["price"]["amount"].clone(), one["status"].clone()),
            (json!(999), json!("archived"))
        );
    })
    .await;
}

/// Migrations 0029 (variants) and 0031 (order totals) on data stored
/// before them: each product becomes its first variant with its price and
/// stock, each order line names that variant, and an order's subtotal reads
/// as its total.
#[tokio::test]
async fn a_catalog_and_orders_stored_before_variants_migrate_into_them() {
    with_app(async |app| {
        let name = format!("olympus_premigration_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(app.db.pool())
            .await
            .unwrap();
        let url = match app.database_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("a database URL: {}", app.database_url),
        };
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let mut before = sqlx::migrate::Migrator::new(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../migrations"
        )))
        .await
        .unwrap();
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version <= 28)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&pool).await.unwrap();
        let (tenant, product, order) = (
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
        );
        for statement in [
            "INSERT INTO tenants (id, slug, name, created_at, updated_at)
             VALUES ($1, 'old-shop', 'Old shop', now(), now())",
            "INSERT INTO products (id, tenant_id, sku, name, description, price_amount, currency,
                                   stock, status, created_at, updated_at)
             VALUES ($2, $1, 'OLD-1', 'Old mug', '', 1250, 'EUR', 7, 'archived', now(), now())",
            "INSERT INTO orders (id, tenant_id, number, customer_id, status, currency, total_amount,
                                 created_at, updated_at)
             VALUES ($3, $1, 1, $1, 'paid', 'EUR', 2500, now(), now())",
            "INSERT INTO order_items (order_id, tenant_id, position, product_id, sku, name,
                                      unit_amount, quantity, line_amount)
             VALUES ($3, $1, 0, $2, 'OLD-1', 'Old mug', 1250, 2, 2500)",
        ] {
            sqlx::query(statement)
                .bind(tenant)
                .bind(product)
                .bind(order)
                .execute(&pool)
                .await
                .unwrap();
        }

        let output = tokio::process::Command::new(crate::OLYMPUS)
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let variant: (uuid::Uuid, String, i64, String, i64, String, Value) = sqlx::query_as(
            "SELECT product_id, sku, price_amount, currency, stock, status, option_values::json
               FROM product_variants WHERE id = $1",
        )
        .bind(product)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            variant,
            (product, "OLD-1".into(), 1250, "EUR".into(), 7, "active".into(), json!({}))
        );
        let line: (uuid::Uuid, Value) = sqlx::query_as(
            "SELECT variant_id, option_values::json FROM order_items WHERE order_id = $1",
        )
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(line, (product, json!({})));
        let totals: (i64, i64, i64) = sqlx::query_as(
            "SELECT coalesce(subtotal_amount, total_amount + discount_amount), discount_amount,
                    total_amount
               FROM orders WHERE id = $1",
        )
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(totals, (2500, 0, 2500));
        let dropped: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.columns
              WHERE table_name = 'products' AND column_name IN ('price_amount', 'currency', 'stock')",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(dropped, 0, "prices and stock live on the variants");
        pool.close().await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(app.db.pool())
            .await
            .unwrap();
    })
    .await;
}
