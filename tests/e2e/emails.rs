//! Email addresses (contract §5 auth, revision 3): every spelling that
//! normalizes to one address (NFKC, lower case, UTS-46 domains) is that
//! address, in register, login, invite and reset; addresses stored before
//! are brought to the normal form by `olympus migrate`, and accounts that
//! would then collide keep working.

use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::{with_app, with_app_opts, Encoding, Options};

use crate::OLYMPUS;

const NFC: &str = "jos\u{e9}@example.com";
const NFD: &str = "jose\u{301}@example.com";

#[tokio::test]
async fn every_spelling_of_one_address_is_one_account() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let register = |email: &str| app.register(&owner.slug, email, GOOD_PASSWORD);
        let jose = register(NFC).await.ok();
        assert_eq!(jose["user"]["email"], NFC);
        let taken = register(NFD).await.err(409, "conflict");
        assert_eq!(taken["details"]["field"], "email");
        // Either spelling logs in to the one account.
        for spelling in [NFC, NFD, " JOSE\u{301}@EXAMPLE.COM "] {
            let session = app.login(&owner.slug, spelling, GOOD_PASSWORD).await.ok();
            assert_eq!(session["user"]["id"], jose["user"]["id"], "{spelling:?}");
        }
        // Fullwidth letters are their plain ones; a domain in Punycode is
        // stored in its Unicode form.
        let kim = register("\u{ff2b}\u{ff49}\u{ff4d}@example.com").await.ok();
        assert_eq!(kim["user"]["email"], "kim@example.com");
        register("KIM@example.com").await.err(409, "conflict");
        let buecher = register("ada@xn--bcher-kva.example").await.ok();
        assert_eq!(buecher["user"]["email"], "ada@b\u{fc}cher.example");
        app.login(&owner.slug, "ADA@B\u{dc}CHER.example", GOOD_PASSWORD)
            .await
            .ok();
        // Inviting another spelling of a member's address: conflict.
        let invited = app
            .invite_member(&owner.access_token, "\u{ff4b}im@example.com", "member")
            .await
            .err(409, "conflict");
        assert_eq!(invited["details"]["field"], "email");
        // A reset asked for with another spelling reaches the account.
        app.request_password_reset(&owner.slug, NFD).await.ok();
        let mail = app
            .mail(Some(&owner.tenant_id), Some("password_reset"), 1)
            .await;
        assert_eq!(mail[0].body["to"], NFC);
        assert_eq!(mail[0].body["user_id"], jose["user"]["id"]);
    })
    .await;
}

#[tokio::test]
async fn migrate_normalizes_stored_addresses_and_colliding_accounts_keep_working() {
    with_app_opts(Options::without_workers(), async |app| {
        // Addresses as revision 2 stored them (trimmed and lower-cased only).
        let mut process = app.serve_process(OLYMPUS, &[]).await;
        let owner = app.signup(Encoding::Json).await;
        let register = |email: &str| app.register(&owner.slug, email, GOOD_PASSWORD);
        let alone = register("zoe@example.com").await.ok();
        let first = register("first@example.com").await.ok();
        let second = register("second@example.com").await.ok();
        let punycode = register("ida@example.org").await.ok();
        for (user, stored) in [
            (&alone, "zoe\u{308}@example.com"),
            (&first, NFC),
            (&second, NFD),
            (&punycode, "ida@xn--bcher-kva.example"),
        ] {
            sqlx::query("UPDATE users SET email = $2 WHERE id = $1::uuid")
                .bind(user["user"]["id"].as_str().unwrap())
                .bind(stored)
                .execute(app.db.pool())
                .await
                .unwrap();
        }
        assert!(process.terminate().await.success());

        let output = tokio::process::Command::new(OLYMPUS)
            .arg("migrate")
            .env("DATABASE_URL", &app.database_url)
            .output()
            .await
            .unwrap();
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{log}");
        assert!(log.contains("changed=2") && log.contains("kept=1"), "{log}");
        let stored = async |user: &serde_json::Value| -> String {
            sqlx::query_scalar("SELECT email FROM users WHERE id = $1::uuid")
                .bind(user["user"]["id"].as_str().unwrap())
                .fetch_one(app.db.pool())
                .await
                .unwrap()
        };
        assert_eq!(stored(&alone).await, "zo\u{eb}@example.com");
        assert_eq!(stored(&punycode).await, "ida@b\u{fc}cher.example");
        assert_eq!(stored(&first).await, NFC, "already in the normal form");
        assert_eq!(stored(&second).await, NFD, "kept: its normal form is taken");

        let mut process = app.serve_process(OLYMPUS, &[]).await;
        // Both colliding accounts still log in, each with its own spelling.
        let nfc = app.login(&owner.slug, NFC, GOOD_PASSWORD).await.ok();
        assert_eq!(nfc["user"]["id"], first["user"]["id"]);
        let nfd = app.login(&owner.slug, NFD, GOOD_PASSWORD).await.ok();
        assert_eq!(nfd["user"]["id"], second["user"]["id"]);
        app.login(&owner.slug, "zoe\u{308}@example.com", GOOD_PASSWORD)
            .await
            .ok();
        // A new account for any spelling of the address: conflict.
        register(NFD).await.err(409, "conflict");
        assert!(process.terminate().await.success());
    })
    .await;
}
