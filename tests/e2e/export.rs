//! `auth.export_me` (contract §5, revision 3): everything the tenant stores
//! about the caller, orders with items and payments included, and no
//! secret.

use olympus_tests::ops::money;
use olympus_tests::{with_app, Encoding};
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(|k| k.as_str()).collect()
}

#[tokio::test]
async fn the_export_holds_the_user_sessions_orders_payments_and_mfa_state_and_no_secret() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let owner = signup.access_token.as_str();
        let product = app
            .create_product(owner, "MUG-1", "Mug", money(1200, "EUR"))
            .with("stock", 10)
            .await
            .ok();
        let product_id = &product["product"]["id"];
        let member = app
            .join(&signup, &format!("m-{}", signup.email), "member")
            .await;
        let token = member.access_token.as_str();
        let order = app.create_order(token, &[(product_id, 2)]).await.ok();
        let order_id = &order["order"]["id"];
        let paid = app
            .authorize_payment(token, order_id, "card", "tok_visa")
            .await
            .ok();
        // A second session, ended: stored, so exported.
        let other = app
            .login(
                &signup.slug,
                &member.email,
                olympus_tests::client::GOOD_PASSWORD,
            )
            .await
            .ok();
        app.logout(other["tokens"]["refresh_token"].as_str().unwrap())
            .await
            .ok();
        // Another member's order is not theirs.
        let someone = app
            .join(&signup, &format!("s-{}", signup.email), "member")
            .await;
        app.create_order(&someone.access_token, &[(product_id, 1)])
            .await
            .ok();

        for encoding in Encoding::BOTH {
            let export = app.export_me(token).encoded(encoding).await.ok();
            assert_eq!(
                keys(&export),
                BTreeSet::from(["user", "sessions", "orders", "carts", "mfa", "exported_at"])
            );
            assert_eq!(export["user"]["id"], member.user_id.as_str());
            assert_eq!(export["user"]["email"], member.email.as_str());
            let sessions = export["sessions"].as_array().unwrap();
            assert_eq!(sessions.len(), 2, "{sessions:?}");
            assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
            assert_eq!(
                sessions
                    .iter()
                    .filter(|s| s["revoked_at"].is_string())
                    .count(),
                1
            );
            let orders = export["orders"].as_array().unwrap();
            assert_eq!(orders.len(), 1, "only the caller's orders");
            assert_eq!(orders[0]["id"], *order_id);
            assert_eq!(orders[0]["items"][0]["quantity"], 2);
            assert_eq!(orders[0]["payments"][0]["id"], paid["payment"]["id"]);
            assert_eq!(orders[0]["payments"][0]["status"], "authorized");
            assert_eq!(export["carts"], json!([]));
            assert_eq!(
                export["mfa"],
                json!({"totp": false, "recovery_codes_left": 0})
            );
            assert!(export["exported_at"].is_string());
            // No secret: no hash, token or token hash of any kind.
            let text = export.to_string();
            for secret in [
                "$argon2", "password", "refresh", "hash", "secret", "token\"",
            ] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            assert!(!text.contains(&member.refresh_token) && !text.contains(token));
        }
    })
    .await;
}
