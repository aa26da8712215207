//! `auth.delete_me` (contract §5, revision 3): a user erases their account;
//! the person leaves every row of the database, their tokens stop working
//! everywhere within a second, their orders stay without them, and the
//! last owner cannot leave.

use olympus_runtime::clock::Clock;
use olympus_tests::client::{Reply, GOOD_PASSWORD};
use olympus_tests::ops::money;
use olympus_tests::totp::Authenticator;
use olympus_tests::{with_app, with_app_opts, Encoding, Options, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

use crate::OLYMPUS;

/// Every row of every table (text, JSON and bytes columns alike) whose
/// column holds `needle`, case aside: `table.column` for each.
async fn rows_naming(app: &TestApp, needle: &str) -> Vec<String> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text
           FROM information_schema.columns c
           JOIN information_schema.tables t
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
            AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea')",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert!(columns.len() > 20, "{columns:?}");
    let mut found = Vec::new();
    for (table, column, data_type) in columns {
        let text = if data_type == "bytea" {
            format!("encode(\"{column}\", 'escape')")
        } else {
            format!("\"{column}\"::text")
        };
        let sql =
            format!("SELECT count(*) FROM \"{table}\" WHERE strpos(lower({text}), lower($1)) > 0");
        let count: i64 = sqlx::query_scalar(&sql)
            .bind(needle)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        if count > 0 {
            let rows: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT {text} FROM \"{table}\" WHERE strpos(lower({text}), lower($1)) > 0"
            ))
            .bind(needle)
            .fetch_all(app.db.pool())
            .await
            .unwrap();
            found.push(format!("{table}.{column}: {rows:?}"));
        }
    }
    found
}

/// The personal data the test gives its member, each as it would be
/// found in a row.
const NAME: &str = "Zebulon Quistgaard";
const PHONE: &str = "+4930987654";
const STREET: &str = "77 Quokka Lane";

fn address() -> Value {
    json!({"name": NAME, "line1": STREET, "city": "Hollabrunn",
           "postal_code": "2020", "country": "at"})
}

#[tokio::test]
async fn deleting_an_account_erases_the_person_everywhere_and_keeps_the_orders() {
    with_app_opts(Options::without_workers(), async |app| {
        // Two processes share every worker: either may answer a request.
        let mut first = app.serve_process(OLYMPUS, &[]).await;
        let mut second = app.serve_process(OLYMPUS, &[]).await;
        let signup = app.signup(Encoding::Json).await;
        let owner = signup.access_token.as_str();
        let product = app
            .create_product(owner, "MUG-1", "Mug", money(1200, "EUR"))
            .with("stock", 10)
            .await
            .ok();
        let product_id = &product["product"]["id"];

        // The member joins by invitation, names themselves, gives a phone.
        let old_email = format!("zebulon.q@{}.example", signup.slug);
        app.invite_member(owner, &old_email, "member").await.ok();
        let invite = app.mail(Some(&signup.tenant_id), Some("invite"), 1).await;
        let joined = app
            .accept_invite(invite[0].body["token"].as_str().unwrap(), GOOD_PASSWORD)
            .with("display_name", NAME)
            .await
            .ok();
        let user_id = joined["user"]["id"].as_str().unwrap().to_owned();
        let token = joined["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        app.update_me(
            &token,
            json!({"phone": "+43 1 23 45 67", "display_name": NAME}),
        )
        .await
        .ok();
        app.update_me(&token, json!({"phone": "+49 30 987654"}))
            .await
            .ok();
        // Someone tries their address with a wrong password.
        app.login(&signup.slug, &old_email, "not-the-password")
            .await
            .err(401, "invalid_credentials");

        // Two orders with their address and phone: one paid, one that the
        // owner cancels; both requests with keys, so their replies are
        // stored (the member's and the owner's).
        let mut orders = Vec::new();
        for key in ["order-1", "order-2"] {
            let placed = app
                .create_order(&token, &[(product_id, 1)])
                .with("shipping_address", address())
                .with("billing_address", address())
                .with("contact_phone", "+49 30 987654")
                .key(key)
                .await
                .ok();
            assert_eq!(placed["order"]["contact_phone"], PHONE);
            orders.push(placed["order"]["id"].clone());
        }
        app.authorize_payment(&token, &orders[0], "card", "tok_visa")
            .await
            .ok();
        let cancelled = app
            .cancel_order(owner, &orders[1])
            .key("cancel-1")
            .await
            .ok();
        assert_eq!(cancelled["order"]["shipping_address"]["line1"], STREET);
        // An open cart with their address and phone, and one checked out
        // (its order keeps the billing address until the erasure).
        let open = app.create_cart(&token).await.ok()["cart"]["id"].clone();
        app.set_cart_item(&token, &open, product_id, 1).await.ok();
        app.update_cart(&token, &open)
            .with("shipping_address", address())
            .with("contact_phone", "+49 30 987654")
            .await
            .ok();
        let sold = app.create_cart(&token).await.ok()["cart"]["id"].clone();
        app.set_cart_item(&token, &sold, product_id, 1).await.ok();
        app.update_cart(&token, &sold)
            .with("billing_address", address())
            .await
            .ok();
        app.checkout(&token, &sold).key("checkout-1").await.ok();

        // They move to another address: the old one is in the change's
        // event and got its notice.
        let new_email = format!("zebulon.new@{}.example", signup.slug);
        app.change_email(&token, &new_email, GOOD_PASSWORD)
            .await
            .ok();
        let change = app
            .mail(Some(&signup.tenant_id), Some("email_change"), 1)
            .await;
        app.confirm_email_change(change[0].body["token"].as_str().unwrap())
            .await
            .ok();
        app.mail(Some(&signup.tenant_id), Some("email_changed"), 1)
            .await;
        // A second device, signed in with the new address.
        let other = app
            .login(&signup.slug, &new_email, GOOD_PASSWORD)
            .await
            .ok();
        let other_token = other["tokens"]["access_token"].as_str().unwrap().to_owned();
        let other_refresh = other["tokens"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        app.me(&other_token).await.ok();
        let needles = [
            NAME,
            "Quistgaard",
            PHONE,
            "+431234567",
            STREET,
            &old_email,
            &new_email,
        ];
        for needle in needles {
            assert!(
                !rows_naming(app, needle).await.is_empty(),
                "the test stored {needle}"
            );
        }

        // Events about them that JetStream had refused for good, parked
        // as the relay parks them (dead letters keep the payload).
        let parked = sqlx::query(
            "INSERT INTO outbox_dead_letters (seq, id, tenant_id, aggregate_id, kind, subject,
                                              correlation_id, traceparent, payload, created_at, error)
             SELECT seq, id, tenant_id, aggregate_id, kind, subject, correlation_id, traceparent,
                    payload, created_at, 'maximum payload exceeded'
               FROM outbox WHERE kind = 'event' AND strpos(convert_from(payload, 'UTF8'), $1) > 0",
        )
        .bind(NAME)
        .execute(app.db.pool())
        .await
        .unwrap()
        .rows_affected();
        assert!(parked >= 2, "{parked}");

        // A wrong password is refused, and counted toward the lockout.
        app.delete_me(&token, "not-the-password")
            .await
            .err(401, "invalid_credentials");
        let failed: i32 = sqlx::query_scalar("SELECT failed_logins FROM users WHERE id = $1::uuid")
            .bind(&user_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(failed, 1);
        let deleted = app
            .delete_me(&token, GOOD_PASSWORD)
            .encoded(Encoding::MsgPack)
            .await
            .ok();
        assert_eq!(deleted, json!({}));

        // No row of any table names them any more (a failed login with
        // the address later would be a new fact, so look now).
        for needle in needles {
            let found = rows_naming(app, needle).await;
            assert!(found.is_empty(), "{needle} is still in {found:?}");
        }

        // Both sessions' tokens are refused within a second by both
        // processes (each answers some of the calls).
        let limit = Duration::from_secs(1);
        for access in [&token, &other_token] {
            for _ in 0..6 {
                app.me(access).refused_within(limit).await;
            }
        }
        app.refresh(&other_refresh).await.err(401, "invalid_token");

        // No longer a member.
        let members = app.list_members(owner).await.ok();
        let ids: Vec<&Value> = members["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| &u["id"])
            .collect();
        assert!(!ids.contains(&&json!(user_id)), "{members}");

        // The orders stay, with the user's id and without the person.
        for id in &orders {
            let order = app.get_order(owner, id).await.ok();
            let order = &order["order"];
            assert_eq!(order["customer_id"], user_id.as_str());
            for field in ["shipping_address", "billing_address", "contact_phone"] {
                assert!(order[field].is_null(), "{field}: {order}");
            }
        }
        // The owner's stored reply, retried, no longer names them either.
        let retried = app
            .cancel_order(owner, &orders[1])
            .key("cancel-1")
            .await
            .ok();
        assert_eq!(retried["order"]["id"], orders[1]);
        assert!(retried["order"]["shipping_address"].is_null(), "{retried}");

        // Their carts are gone with the account.
        let carts: i64 = sqlx::query_scalar("SELECT count(*) FROM carts WHERE customer_id = $1::uuid")
            .bind(&user_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(carts, 0);

        // user.deleted, with ids and counts only (the checkout's order
        // too); every session revoked.
        let event = app
            .events(Some(&signup.tenant_id), Some("user.deleted"), 1)
            .await;
        assert_eq!(
            event[0].body["data"],
            json!({"user_id": user_id, "sessions_revoked": 2, "orders_kept": 3})
        );
        assert_eq!(event[0].body["actor_id"], user_id.as_str());
        let revoked = app
            .events(Some(&signup.tenant_id), Some("session.revoked"), 2)
            .await;
        let reasons: Vec<&Value> = revoked.iter().map(|e| &e.body["data"]["reason"]).collect();
        assert_eq!(
            reasons.iter().filter(|r| **r == "user_deleted").count(),
            2,
            "{reasons:?}"
        );

        // The audit log keeps the events about them, without the person.
        let audit = app.list_audit(owner).with("limit", 100).await.ok();
        let about: Vec<&Value> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e.to_string().contains(&user_id))
            .collect();
        let types: Vec<&str> = about.iter().map(|e| e["type"].as_str().unwrap()).collect();
        for expected in [
            "user.registered",
            "user.updated",
            "user.login_failed",
            "order.placed",
            "order.cancelled",
            "user.email_changed",
            "user.deleted",
        ] {
            assert!(types.contains(&expected), "{expected} in {types:?}");
        }
        let updated = about.iter().find(|e| e["type"] == "user.updated").unwrap();
        let user = updated["data"]["user"].as_object().unwrap();
        assert_eq!(user["id"], user_id.as_str());
        for field in ["email", "display_name", "phone"] {
            assert!(!user.contains_key(field), "{field} in {user:?}");
        }
        let changed = about
            .iter()
            .find(|e| e["type"] == "user.email_changed")
            .unwrap();
        assert_eq!(
            changed["data"],
            json!({"user_id": user_id, "sessions_revoked": 0})
        );

        // Nobody logs in as them.
        for email in [&old_email, &new_email] {
            app.login(&signup.slug, email, GOOD_PASSWORD)
                .await
                .err(401, "invalid_credentials");
        }

        // The address is free: it registers as a new account.
        let again = app
            .register(&signup.slug, &new_email, GOOD_PASSWORD)
            .await
            .ok();
        assert_ne!(again["user"]["id"], user_id.as_str());
        assert!(first.terminate().await.success());
        assert!(second.terminate().await.success());
    })
    .await;
}

#[tokio::test]
async fn the_last_owner_cannot_leave_but_one_of_two_owners_can() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let refused = app
            .delete_me(&signup.access_token, &signup.password)
            .await
            .err(409, "invalid_state");
        assert_eq!(refused["details"]["state"], "last_owner", "{refused}");
        app.me(&signup.access_token).await.ok();

        let second = app
            .join(&signup, &format!("o-{}", signup.email), "owner")
            .await;
        app.delete_me(&signup.access_token, &signup.password)
            .await
            .ok();
        app.assert_refused_within_a_second(&signup.access_token)
            .await;
        // The tenant keeps its other owner, who now cannot leave.
        let members = app.list_members(&second.access_token).await.ok();
        assert_eq!(members["items"].as_array().unwrap().len(), 1);
        app.delete_me(&second.access_token, GOOD_PASSWORD)
            .await
            .err(409, "invalid_state");
    })
    .await;
}

#[tokio::test]
async fn a_user_with_totp_gives_a_code_or_a_recovery_code_and_wrong_ones_count() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let mut users = Vec::new();
        for name in ["a", "b"] {
            let member = app
                .join(&signup, &format!("{name}-{}", signup.email), "member")
                .await;
            let (authenticator, codes) = crate::mfa::enable(app, &member.access_token).await;
            users.push((member, authenticator, codes));
        }
        let (a, authenticator, _) = &users[0];
        let missing = app
            .delete_me(&a.access_token, GOOD_PASSWORD)
            .await
            .err(422, "validation_failed");
        assert!(missing["details"]["fields"]["code"].is_array(), "{missing}");
        app.delete_me(&a.access_token, GOOD_PASSWORD)
            .with("code", "000000")
            .await
            .err(401, "invalid_credentials");
        app.delete_me(&a.access_token, GOOD_PASSWORD)
            .with("code", "AAAA-BBBB-CCCC")
            .await
            .err(401, "invalid_credentials");
        let failed: i32 = sqlx::query_scalar("SELECT failed_logins FROM users WHERE id = $1::uuid")
            .bind(&a.user_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(failed, 2, "two wrong codes, each counted");
        // The right password with a wrong code erased nothing.
        app.me(&a.access_token).await.ok();

        // A TOTP code of the next step (the confirming one was spent).
        app.clock.advance(Duration::from_secs(30));
        let step = Authenticator::step_at(app.clock.now().timestamp());
        app.delete_me(&a.access_token, GOOD_PASSWORD)
            .with("code", authenticator.code(step))
            .await
            .ok();
        app.assert_refused_within_a_second(&a.access_token).await;

        // A recovery code, with a login's challenge pending.
        let (b, _, codes) = &users[1];
        app.login(&signup.slug, &b.email, GOOD_PASSWORD).await.ok();
        let count = async |table: &str| -> i64 {
            sqlx::query_scalar(&format!(
                "SELECT count(*) FROM {table} WHERE user_id = $1::uuid"
            ))
            .bind(&b.user_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap()
        };
        assert_eq!(count("mfa_challenges").await, 1);
        assert_eq!(count("recovery_codes").await, 10);
        app.delete_me(&b.access_token, GOOD_PASSWORD)
            .with("code", &codes[0])
            .await
            .ok();
        app.assert_refused_within_a_second(&b.access_token).await;
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM users WHERE id IN ($1::uuid, $2::uuid)")
                .bind(&a.user_id)
                .bind(&b.user_id)
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert_eq!(left, 0);
        for table in ["recovery_codes", "mfa_challenges"] {
            assert_eq!(count(table).await, 0, "{table}");
        }
    })
    .await;
}

/// Mail not yet sent to the person goes unsent: with the relay stopped,
/// a reset mail waits in the outbox, and the deletion takes it out.
#[tokio::test]
async fn mail_still_waiting_for_the_person_is_not_sent() {
    with_app_opts(Options::without_relay(), async |app| {
        let signup = app.signup(Encoding::Json).await;
        let member = app
            .join(&signup, &format!("m-{}", signup.email), "member")
            .await;
        let someone = app
            .join(&signup, &format!("s-{}", signup.email), "member")
            .await;
        for email in [&member.email, &someone.email] {
            app.request_password_reset(&signup.slug, email).await.ok();
        }
        let waiting = async |email: &str| -> i64 {
            sqlx::query_scalar(
                "SELECT count(*) FROM outbox
                  WHERE kind = 'mail' AND published_at IS NULL
                    AND convert_from(payload, 'UTF8')::jsonb->>'to' = $1",
            )
            .bind(email)
            .fetch_one(app.db.pool())
            .await
            .unwrap()
        };
        // The verification mail and the reset mail, which is queued
        // after the reply (its timing says nothing of the account).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while waiting(&member.email).await < 2 || waiting(&someone.email).await < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no reset mail queued"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        app.delete_me(&member.access_token, GOOD_PASSWORD)
            .await
            .ok();
        assert_eq!(waiting(&member.email).await, 0);
        assert_eq!(waiting(&someone.email).await, 2, "another's mail stays");
        assert!(rows_naming(app, &member.email).await.is_empty());
    })
    .await;
}

/// An address is the person's only while it is theirs: one they gave up
/// that another member took since, and one they only asked to move to
/// (anyone may ask for any address), keep their owners' data.
#[tokio::test]
async fn addresses_of_other_members_keep_their_data() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let leaver = app
            .join(&signup, &format!("leaver-{}", signup.email), "member")
            .await;
        // The leaver moves away from their first address; Quinn takes it.
        let moved = format!("moved-{}", signup.email);
        app.change_email(&leaver.access_token, &moved, GOOD_PASSWORD)
            .await
            .ok();
        let mail = app
            .mail(Some(&signup.tenant_id), Some("email_change"), 1)
            .await;
        app.confirm_email_change(mail[0].body["token"].as_str().unwrap())
            .await
            .ok();
        let quinn = app.join(&signup, &leaver.email, "member").await;
        app.update_me(
            &quinn.access_token,
            json!({"display_name": "Quinn Q", "phone": "+49 30 555 000"}),
        )
        .await
        .ok();
        app.login(&signup.slug, &quinn.email, "not-the-password")
            .await
            .err(401, "invalid_credentials");
        // They ask to move to the owner's address, and leave.
        app.change_email(&leaver.access_token, &signup.email, GOOD_PASSWORD)
            .await
            .ok();
        let pending = format!("invitee-{}", signup.email);
        app.invite_member(&signup.access_token, &pending, "member")
            .await
            .ok();
        app.delete_me(&leaver.access_token, GOOD_PASSWORD)
            .await
            .ok();

        // Quinn's and the owner's events still carry their addresses,
        // names and phones; the owner's invitation is still pending.
        let audit = app
            .list_audit(&signup.access_token)
            .with("limit", 100)
            .await
            .ok();
        let items = audit["items"].as_array().unwrap();
        let of = |kind: &str, user: &str| -> Vec<Value> {
            items
                .iter()
                .filter(|e| e["type"] == kind && e.to_string().contains(user))
                .cloned()
                .collect()
        };
        let quinn_updated = &of("user.updated", &quinn.user_id)[0];
        assert_eq!(quinn_updated["data"]["user"]["email"], quinn.email.as_str());
        assert_eq!(quinn_updated["data"]["user"]["display_name"], "Quinn Q");
        assert_eq!(quinn_updated["data"]["user"]["phone"], "+4930555000");
        let quinn_failed = &of("user.login_failed", &quinn.user_id)[0];
        assert_eq!(quinn_failed["data"]["email"], quinn.email.as_str());
        let owner_registered = &of("user.registered", &signup.user_id)[0];
        assert_eq!(
            owner_registered["data"]["user"]["email"],
            signup.email.as_str()
        );
        let invited = items
            .iter()
            .find(|e| e["type"] == "member.invited")
            .unwrap();
        assert_eq!(invited["data"]["email"], pending.as_str());
        let invitations = app.list_invitations(&signup.access_token).await.ok();
        assert_eq!(
            invitations["items"][0]["email"],
            pending.as_str(),
            "{invitations}"
        );
        // The leaver's own are erased.
        let changed = &of("user.email_changed", &leaver.user_id)[0];
        assert_eq!(
            changed["data"],
            json!({"user_id": leaver.user_id, "sessions_revoked": 0})
        );
        assert!(rows_naming(app, &moved).await.is_empty());
        app.me(&quinn.access_token).await.ok();
    })
    .await;
}

/// Deleting an account does not reset its address's mail limit: the
/// limit's log keeps a hash of each recipient, whoever it belonged to.
#[tokio::test]
async fn deleting_an_account_does_not_reset_its_addresses_mail_limit() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let email = format!("often-{}", signup.email);
        let first = app.register(&signup.slug, &email, GOOD_PASSWORD).await.ok();
        let token = first["tokens"]["access_token"].as_str().unwrap();
        // The registration's mail and four more: the hour's five.
        for _ in 0..4 {
            app.resend_verification(token).await.ok();
        }
        app.delete_me(token, GOOD_PASSWORD).await.ok();
        let again = app.register(&signup.slug, &email, GOOD_PASSWORD).await.ok();
        app.resend_verification(again["tokens"]["access_token"].as_str().unwrap())
            .await
            .err(429, "rate_limited");
        // The log holds hashes, never the address.
        let (plain, hashed): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE recipient = $1),
                    count(*) FILTER (WHERE recipient = encode(sha256(convert_to($1, 'UTF8')), 'hex'))
               FROM mail_log",
        )
        .bind(&email)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!((plain, hashed), (0, 5));
    })
    .await;
}

/// Orders in flight when the account is deleted: each either commits
/// before the erasure reads (and loses the address with the rest) or finds
/// its caller gone; no address survives either way.
#[tokio::test]
async fn orders_racing_the_deletion_leave_no_address() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let product = app
            .create_product(&signup.access_token, "RACE-1", "Race", money(100, "EUR"))
            .with("stock", 1000)
            .await
            .ok();
        let product_id = product["product"]["id"].clone();
        let member = app
            .join(&signup, &format!("racer-{}", signup.email), "member")
            .await;
        let orders = (0..12).map(|i| {
            let product_id = product_id.clone();
            let token = member.access_token.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(i * 3)).await;
                app.create_order(&token, &[(&product_id, 1)])
                    .with("shipping_address", address())
                    .with("contact_phone", "+49 30 987654")
                    .await
            }
        });
        // And checkouts of carts with the address: a checkout takes the
        // gate before it locks the cart, which the erasure's cascade
        // deletes (the reverse order deadlocked).
        let mut carts = Vec::new();
        for _ in 0..12 {
            let token = member.access_token.as_str();
            let cart = app.create_cart(token).await.ok()["cart"]["id"].clone();
            app.set_cart_item(token, &cart, &product_id, 1).await.ok();
            app.update_cart(token, &cart)
                .with("shipping_address", address())
                .await
                .ok();
            carts.push(cart);
        }
        let checkouts = carts.iter().enumerate().map(|(i, cart)| {
            let token = member.access_token.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(i as u64 * 3)).await;
                app.checkout(&token, cart).await
            }
        });
        let deletion = async {
            tokio::time::sleep(Duration::from_millis(15)).await;
            app.delete_me(&member.access_token, GOOD_PASSWORD)
                .await
                .status()
        };
        let (ordered, checked_out, deleted) = tokio::join!(
            futures::future::join_all(orders),
            futures::future::join_all(checkouts),
            deletion
        );
        assert_eq!(deleted, 200);
        // Any other reply, with its body: what went wrong.
        let unexpected = |replies: &[Reply], expected: &[u16]| -> Vec<String> {
            replies
                .iter()
                .filter(|reply| !expected.contains(&reply.status()))
                .map(|reply| format!("{} {}", reply.status(), reply.body()))
                .collect()
        };
        let statuses: Vec<u16> = ordered.iter().map(Reply::status).collect();
        assert_eq!(unexpected(&ordered, &[200, 401]), Vec::<String>::new());
        // Before the erasure, or refused: the caller gone, or the cart.
        assert_eq!(
            unexpected(&checked_out, &[200, 401, 404]),
            Vec::<String>::new()
        );
        for needle in [STREET, PHONE, NAME] {
            let found = rows_naming(app, needle).await;
            assert!(
                found.is_empty(),
                "{needle} is still in {found:?} ({statuses:?})"
            );
        }
    })
    .await;
}
