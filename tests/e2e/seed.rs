//! `olympus bench seed` (issue 34): a database filled at a chosen scale,
//! which the workers then serve as their own: its users log in with the
//! seeded password, see their tenant's products, orders, members and audit
//! events, and nothing of another tenant.

use olympus_tests::with_app;

use crate::cli::{olympus, stderr};

#[tokio::test]
async fn a_seeded_database_is_served_as_the_workers_own() {
    with_app(async |app| {
        let env = [("DATABASE_URL", app.database_url.as_str())];
        let out = olympus(&["bench", "seed", "--scale", "0.0005"], &env).await;
        assert!(out.status.success(), "{}", stderr(&out));
        let report = String::from_utf8_lossy(&out.stdout);
        for counted in ["tenants 5", "users 500", "orders 997", "audit_events 500"] {
            assert!(report.contains(counted), "{counted}: {report}");
        }
        let count = async |sql: &str| -> i64 {
            sqlx::query_scalar(sql).fetch_one(app.db.pool()).await.unwrap()
        };
        // Every order's total is its lines'; every paid one has its payment.
        let mismatched = count(
            "SELECT count(*) FROM orders o
              WHERE total_amount <> (SELECT sum(line_amount) FROM order_items i WHERE i.order_id = o.id)",
        )
        .await;
        assert_eq!(mismatched, 0);
        let unpaid = count(
            "SELECT count(*) FROM orders o WHERE status IN ('paid', 'fulfilled', 'refunded')
               AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)",
        )
        .await;
        assert_eq!(unpaid, 0);

        let login = async |email: &str| {
            let reply = app
                .login("seed-0", email, olympus_bench::seed::PASSWORD)
                .await
                .ok();
            reply["tokens"]["access_token"].as_str().unwrap().to_owned()
        };
        let admin = login("admin@seed-0.example").await;
        let items = |reply: serde_json::Value| reply["items"].as_array().unwrap().len();
        // seed-0: 25 orders, 25 products, 50 members at this scale.
        let orders = app.list_orders(&admin).with("limit", 100).await.ok();
        assert_eq!(items(orders), 25, "an admin sees every order of the tenant");
        let members = app.list_members(&admin).with("limit", 100).await.ok();
        assert_eq!(items(members), 50);
        let lamps = app
            .list_products(&admin)
            .with("q", "lamp")
            .with("limit", 100)
            .await
            .ok();
        assert_eq!(items(lamps.clone()), 4, "products 0, 8, 16, 24 are lamps: {lamps}");
        let logins = app
            .list_audit(&admin)
            .with("type", "user.logged_in")
            .with("limit", 100)
            .await
            .ok();
        assert!(items(logins) >= 100, "the seeded events, and this login's own");
        // A member sees only their own orders: user2 ordered the third.
        let member = login("user2@seed-0.example").await;
        let own = app.list_orders(&member).with("limit", 100).await.ok();
        assert_eq!(items(own.clone()), 1, "{own}");
        // A fresh database only.
        let again = olympus(&["bench", "seed", "--scale", "0.0005"], &env).await;
        assert_eq!(again.status.code(), Some(1));
        assert!(stderr(&again).contains("already holds 5 tenants"), "{}", stderr(&again));
    })
    .await;
}
