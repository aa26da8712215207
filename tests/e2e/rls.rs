//! Row-level security: the database itself keeps tenants apart.

use olympus_runtime::db::in_tenant;
use olympus_tests::{with_app, Encoding};
use uuid::Uuid;

#[tokio::test]
async fn a_query_without_a_tenant_filter_sees_only_its_tenant() {
    with_app(async |app| {
        let a = app.signup(Encoding::Json).await;
        let b = app.signup(Encoding::Json).await;
        let a_id: Uuid = a.tenant_id.parse().unwrap();

        // As the owner (no tenant scope) both tenants' users exist.
        let all: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(all, 2);

        let mut tx = app.db.tenant(a_id).await.unwrap();
        let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert_eq!(emails, vec![a.email.as_str()]);
        let sessions: Vec<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM sessions")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert!(!sessions.is_empty() && sessions.iter().all(|t| *t == a_id));
        let tenants: Vec<String> = sqlx::query_scalar("SELECT slug FROM tenants")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert_eq!(tenants, vec![a.slug.as_str()]);

        // Writing into another tenant is refused, updating it touches nothing.
        let insert = sqlx::query(
            "INSERT INTO users (id, tenant_id, email, display_name, role, password_hash)
             VALUES (gen_random_uuid(), $1::uuid, 'x@y.io', 'x', 'member', 'x')",
        )
        .bind(&b.tenant_id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
        assert!(
            insert.to_string().contains("row-level security"),
            "{insert}"
        );
        tx.rollback().await.unwrap();

        let mut tx = app.db.tenant(a_id).await.unwrap();
        let updated = sqlx::query("UPDATE users SET display_name = 'pwned'")
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(updated, 1, "only tenant a's one user");
        tx.rollback().await.unwrap();

        // The scope ends with the transaction: the connection goes back to
        // the pool as the owner, with no tenant.
        let mut conn = app.db.pool().acquire().await.unwrap();
        let (role, tenant): (String, Option<String>) = sqlx::query_as(
            "SELECT current_user::text, nullif(current_setting('olympus.tenant_id', true), '')",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_ne!(role, "olympus_app");
        assert_eq!(tenant, None);
    })
    .await;
}

#[tokio::test]
async fn every_tenant_table_forces_row_security_and_the_app_role_is_unprivileged() {
    with_app(async |app| {
        let tables: Vec<(String, bool, bool)> = sqlx::query_as(
            "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind = 'r'
                AND EXISTS (SELECT 1 FROM pg_attribute a
                             WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
              ORDER BY 1",
        )
        .fetch_all(app.db.pool())
        .await
        .unwrap();
        assert!(tables.iter().any(|(name, ..)| name == "users"));
        for (table, enabled, forced) in &tables {
            assert!(*enabled && *forced, "{table}: enabled {enabled}, forced {forced}");
            let policies: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_policies WHERE tablename = $1")
                    .bind(table)
                    .fetch_one(app.db.pool())
                    .await
                    .unwrap();
            assert!(policies > 0, "{table} has no policy");
        }
        let (superuser, bypass): (bool, bool) = sqlx::query_as(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'olympus_app'",
        )
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert!(!superuser && !bypass);
        let owned: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_tables WHERE tableowner = 'olympus_app'",
        )
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(owned, 0);
        // olympus_app cannot read the signing keys.
        let mut tx = app.db.tenant(Uuid::nil()).await.unwrap();
        let denied = sqlx::query("SELECT * FROM signing_keys")
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(denied.to_string().contains("permission denied"), "{denied}");
    })
    .await;
}

#[tokio::test]
async fn stored_passwords_are_argon2id_with_owasp_parameters() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let hash: String =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1::uuid")
                .bind(&signup.user_id)
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        let params = hash.split('$').nth(3).unwrap();
        let value = |name: &str| -> u32 {
            params
                .split(',')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(
            value("m") >= 19_456 && value("t") >= 2 && value("p") >= 1,
            "{params}"
        );
        assert!(!hash.contains(&signup.password));
        // Refresh tokens are stored only as 32-byte hashes.
        let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT refresh_hash FROM sessions")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
        assert!(stored.iter().all(|h| h.len() == 32));
        assert!(!stored.iter().any(|h| h == signup.refresh_token.as_bytes()));
    })
    .await;
}

/// The one-round-trip reads (`db::in_tenant`, for `auth.me` and
/// `tenant.get`) are as confined as a tenant transaction, and leave no
/// scope on the connection.
#[tokio::test]
async fn the_one_round_trip_reads_see_their_tenant_only_and_leave_no_scope_behind() {
    with_app(async |app| {
        let a = app.signup(Encoding::Json).await;
        let b = app.signup(Encoding::Json).await;
        let a_id: Uuid = a.tenant_id.parse().unwrap();
        let a_user: Uuid = a.user_id.parse().unwrap();
        let b_id: Uuid = b.tenant_id.parse().unwrap();
        let b_user: Uuid = b.user_id.parse().unwrap();
        // One connection, so the next statement runs where the read ran.
        let db = olympus_runtime::Db::connect(&app.database_url, None, 1, false)
            .await
            .unwrap();
        let user_read = in_tenant("SELECT email FROM users WHERE id = $2");
        let user = |tenant: Uuid, user: Uuid| {
            sqlx::query_scalar::<_, String>(&user_read)
                .bind(tenant)
                .bind(user)
                .fetch_optional(db.app_pool())
        };
        // Past the fifth execution Postgres may switch the prepared
        // statement to a generic plan: it must stay confined.
        for _ in 0..8 {
            assert_eq!(
                user(a_id, a_user).await.unwrap().as_deref(),
                Some(a.email.as_str())
            );
            assert_eq!(
                user(a_id, b_user).await.unwrap(),
                None,
                "another tenant's user is out of scope"
            );
            assert_eq!(user(b_id, a_user).await.unwrap(), None);
        }
        let tenant_read = in_tenant("SELECT slug FROM tenants WHERE id = $1");
        let tenant = |id: Uuid| {
            sqlx::query_scalar::<_, String>(&tenant_read)
                .bind(id)
                .fetch_optional(db.app_pool())
        };
        assert_eq!(
            tenant(b_id).await.unwrap().as_deref(),
            Some(b.slug.as_str())
        );
        let left: Option<String> =
            sqlx::query_scalar("SELECT nullif(current_setting('olympus.tenant_id', true), '')")
                .fetch_one(db.app_pool())
                .await
                .unwrap();
        assert_eq!(left, None, "the scope ended with the read");
        let unscoped: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(db.app_pool())
            .await
            .unwrap();
        assert_eq!(unscoped, 0);
        // Inside a transaction, the read's scope lasts until that
        // transaction ends (as any set_config(..., true) would), not longer.
        let mut tx = db.tenant(b_id).await.unwrap();
        let seen: Option<String> = sqlx::query_scalar(&user_read)
            .bind(a_id)
            .bind(a_user)
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
        assert_eq!(seen.as_deref(), Some(a.email.as_str()));
        tx.rollback().await.unwrap();
        let left: Option<String> =
            sqlx::query_scalar("SELECT nullif(current_setting('olympus.tenant_id', true), '')")
                .fetch_one(db.app_pool())
                .await
                .unwrap();
        assert_eq!(left, None);
        db.close().await;
    })
    .await;
}

/// A transaction dropped without commit ends at once, not when its
/// connection is next used: the pool flushes its ROLLBACK on release
/// (vendor/sqlx-core/PATCHED.md). And a statement whose caller stopped
/// waiting leaves the connection in step for the next one.
#[tokio::test]
async fn a_dropped_transaction_leaves_no_lock_behind() {
    with_app(async |app| {
        let a = app.signup(Encoding::Json).await;
        let tenant: Uuid = a.tenant_id.parse().unwrap();
        // One connection: whatever it still owes shows on the next use.
        let db = olympus_runtime::Db::connect(&app.database_url, None, 1, false)
            .await
            .unwrap();
        let mut tx = db.tenant(tenant).await.unwrap();
        sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .unwrap();
        drop(tx);
        // The pool is idle from here on; the lock must still go.
        let released = olympus_tests::wait_for_zero(
            app.db.pool(),
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
             WHERE c.relname = 'tenants' AND l.mode = 'RowShareLock' \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            std::time::Duration::from_secs(3),
        )
        .await;
        assert_eq!(
            released,
            Ok(()),
            "the dropped transaction still holds its lock"
        );
        let idle_in_transaction: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
        )
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(idle_in_transaction, 0);

        // A caller that gives up mid-statement.
        let slow = sqlx::query("SELECT pg_sleep(0.3)").execute(db.app_pool());
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), slow)
                .await
                .is_err()
        );
        let next: i32 = sqlx::query_scalar("SELECT 7")
            .fetch_one(db.app_pool())
            .await
            .unwrap();
        assert_eq!(next, 7, "the next statement reads its own reply");
        db.close().await;
    })
    .await;
}
