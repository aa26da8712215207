//! Promotions (contract §5 commerce, revision 3): codes with a percentage
//! or a fixed amount off, dates, a minimum and usage limits, for owners and
//! admins. (Carts apply them and checkouts count them; see issue 32.)

use olympus_tests::ops::money;
use olympus_tests::{with_app, Encoding};
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
