//! Row-level security: the database itself keeps tenants apart.

use olympus_runtime::shared_reads::{read_many, SharedRead};
use olympus_tests::{with_app, Encoding};
use sqlx::postgres::PgRow;
use sqlx::Row;
use std::sync::LazyLock;
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
        // Every plan suits every tenant (migration 0037): Postgres keeps
        // no statistics of a tenant_id, or (products, whose search needs
        // the tenant's size) the policy's tenant is a subquery, evaluated
        // once per execution and never while planning, and a tenant is
        // taken for a hundred rows.
        let fitted_to_a_tenant: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
              WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
                AND a.attname = 'tenant_id' AND NOT a.attisdropped
                AND NOT (a.attstattarget = 0
                         AND NOT EXISTS (SELECT 1 FROM pg_statistic s
                                          WHERE s.starelid = c.oid AND s.staattnum = a.attnum))
                AND NOT (coalesce(a.attoptions @> ARRAY['n_distinct=-0.01'], false)
                         AND NOT EXISTS (
                             SELECT 1 FROM pg_policies p
                              WHERE p.schemaname = 'public' AND p.tablename = c.relname
                                AND replace(coalesce(p.qual, '') || coalesce(p.with_check, ''),
                                            'SELECT olympus_current_tenant()', '')
                                    LIKE '%olympus_current_tenant()%'))
              ORDER BY 1",
        )
        .fetch_all(app.db.pool())
        .await
        .unwrap();
        assert_eq!(fitted_to_a_tenant, Vec::<String>::new());
        // The tables shared reads read several tenants of in one
        // statement keep a policy evaluated on each row.
        let per_row: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_policies
              WHERE tablename IN ('users', 'tenants')
                AND qual NOT LIKE '%SELECT olympus_current_tenant()%'",
        )
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(per_row, 3, "users' and tenants' own policies");
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
        // OWASP's minimum configurations, rated equal: memory (KiB) for
        // one to five passes, at parallelism 1.
        let owasp_minimum_kib = |passes: u32| match passes {
            1 => 47_104,
            2 => 19_456,
            3 => 12_288,
            4 => 9_216,
            _ => 7_168,
        };
        assert!(
            value("t") >= 1 && value("p") >= 1 && value("m") >= owasp_minimum_kib(value("t")),
            "{params}"
        );
        assert!(!hash.contains(&signup.password));
        // Refresh tokens are stored only as 32-byte hashes (digests, of
        // the form naming the session; hashes, of the former).
        let stored: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT coalesce(refresh_digest, refresh_hash) FROM sessions")
                .fetch_all(app.db.pool())
                .await
                .unwrap();
        assert!(!stored.is_empty() && stored.iter().all(|h| h.len() == 32));
        assert!(!stored.iter().any(|h| h == signup.refresh_token.as_bytes()));
    })
    .await;
}

/// The shared bearer reads (`auth.me`, `tenant.get`: one statement for
/// every read waiting, `olympus_runtime::shared_reads`) confine each read
/// to its own tenant, whatever the others in its statement ask, and leave
/// no scope on the connection.
#[tokio::test]
async fn shared_reads_see_each_their_own_tenant_and_leave_no_scope_behind() {
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
        static USER: LazyLock<SharedRead> =
            LazyLock::new(|| SharedRead::new("SELECT email FROM users WHERE id = k.key"));
        let email = |row: Option<PgRow>| row.map(|row| row.get::<String, _>("email"));
        // One statement: both tenants, and each tenant asking for the
        // other's user. Past the fifth execution Postgres may switch the
        // prepared statement to a generic plan: it must stay confined.
        let pairs = [
            (a_id, a_user),
            (b_id, b_user),
            (a_id, b_user),
            (b_id, a_user),
            (a_id, a_user),
        ];
        for _ in 0..8 {
            let rows = read_many(db.app_pool(), &USER, &pairs).await.unwrap();
            let emails: Vec<Option<String>> = rows.into_iter().map(email).collect();
            assert_eq!(
                emails,
                [
                    Some(a.email.clone()),
                    Some(b.email.clone()),
                    None,
                    None,
                    Some(a.email.clone())
                ],
                "each read sees its own tenant's user, never the other's"
            );
        }
        // A lone read has a statement of its own: confined alike.
        for (pair, expected) in [
            ((a_id, a_user), Some(a.email.clone())),
            ((a_id, b_user), None),
            ((b_id, b_user), Some(b.email.clone())),
        ] {
            for _ in 0..6 {
                let rows = read_many(db.app_pool(), &USER, &[pair]).await.unwrap();
                assert_eq!(
                    rows.into_iter().map(email).collect::<Vec<_>>(),
                    std::slice::from_ref(&expected)
                );
            }
        }
        // Through the queue: many reads at once share statements (one
        // connection, so they must), each still answered for itself.
        let reads = (0..200).map(|i| {
            let (tenant, user, expected) = match i % 4 {
                0 => (a_id, a_user, Some(a.email.clone())),
                1 => (b_id, b_user, Some(b.email.clone())),
                2 => (a_id, b_user, None),
                _ => (b_id, a_user, None),
            };
            let db = db.clone();
            async move {
                let row = db.read_shared(&USER, tenant, user).await.unwrap();
                assert_eq!(email(row), expected, "read {i}");
            }
        });
        futures::future::join_all(reads).await;

        static TENANT: LazyLock<SharedRead> =
            LazyLock::new(|| SharedRead::new("SELECT slug FROM tenants WHERE id = k.key"));
        let slugs: Vec<Option<String>> =
            read_many(db.app_pool(), &TENANT, &[(b_id, b_id), (a_id, b_id)])
                .await
                .unwrap()
                .into_iter()
                .map(|row| row.map(|row| row.get("slug")))
                .collect();
        assert_eq!(slugs, [Some(b.slug.clone()), None]);

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

/// `olympus_open_login_session` (a login's session, its user's update and
/// its event in one call) works only inside the tenant it enters: naming
/// another tenant's user finds no one, and writes nothing.
#[tokio::test]
async fn a_login_session_opens_only_for_a_user_of_the_tenant_it_names() {
    with_app(async |app| {
        let a = app.signup(Encoding::Json).await;
        let b = app.signup(Encoding::Json).await;
        let (a_id, b_id): (Uuid, Uuid) =
            (a.tenant_id.parse().unwrap(), b.tenant_id.parse().unwrap());
        let a_user: Uuid = a.user_id.parse().unwrap();
        let count = async |table: &str| -> i64 {
            sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(app.db.pool())
                .await
                .unwrap()
        };
        let (sessions, outbox) = (count("sessions").await, count("outbox").await);
        let open = async |tenant: Uuid, session: Uuid| -> Option<(Uuid, Uuid)> {
            // An envelope as the runtime makes it (the audit log reads it).
            let event = Uuid::now_v7();
            let envelope = serde_json::json!({
                "id": event, "type": "user.logged_in", "tenant_id": tenant,
                "occurred_at": chrono::Utc::now(), "correlation_id": "rls-test",
                "actor_id": a_user, "schema_version": 1, "data": {}
            });
            sqlx::query_as(
                "SELECT id, tenant_id FROM olympus_open_login_session(
                     $1, $2, now(), $3, $4, 60, NULL, NULL,
                     $5, $1, $2, 'event', 'x.events.t.user.logged_in', 'rls-test', $6, NULL, 'x')",
            )
            .bind(tenant)
            .bind(a_user)
            .bind(session)
            .bind(session.as_bytes().as_slice())
            .bind(event)
            .bind(serde_json::to_vec(&envelope).unwrap())
            .fetch_optional(app.db.app_pool())
            .await
            .unwrap()
        };
        assert_eq!(open(b_id, Uuid::now_v7()).await, None);
        assert_eq!(count("sessions").await, sessions);
        assert_eq!(count("outbox").await, outbox);
        // In its own tenant the same call opens the session and records the event.
        let session = Uuid::now_v7();
        assert_eq!(open(a_id, session).await, Some((a_user, a_id)));
        assert_eq!(count("sessions").await, sessions + 1);
        assert_eq!(count("outbox").await, outbox + 1);
        let owner: Uuid = sqlx::query_scalar("SELECT user_id FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(owner, a_user);
    })
    .await;
}

/// A request's transaction plans each statement once per connection
/// (`plan_cache_mode = force_generic_plan`, olympus_runtime::db): a page's
/// `LIMIT $2` is not planned again at every execution, as Postgres chose to
/// in a big tenant (issue 34). Only the transaction's: the connection
/// serves the next one as Postgres would. Every PL/pgSQL function keeps
/// `auto` (migration 0038): one of their generic plans reads a tenant's
/// rows.
#[tokio::test]
async fn requests_plan_once_and_functions_as_before() {
    with_app(async |app| {
        let a = app.signup(Encoding::Json).await;
        let tenant: Uuid = a.tenant_id.parse().unwrap();
        let page = "SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2 -- a page";
        let plans = async |tx: &mut sqlx::PgConnection| -> (i64, i64) {
            sqlx::query_as(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements
                  WHERE statement = $1",
            )
            .bind(page)
            .fetch_one(&mut *tx)
            .await
            .unwrap()
        };
        let mut tx = app.db.tenant(tenant).await.unwrap();
        for _ in 0..7 {
            let ids: Vec<Uuid> = sqlx::query_scalar(page)
                .bind(Uuid::nil())
                .bind(21_i64)
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            assert_eq!(ids.len(), 1);
        }
        assert_eq!(plans(&mut tx).await, (7, 0));
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        // After it, on that connection: Postgres's own choice, which plans
        // the first five executions with their values. (The pool's
        // connections are taken until it turns up.)
        let pool = app.db.app_pool();
        let mut held = Vec::new();
        let mut found = false;
        for _ in 0..pool.options().get_max_connections() {
            let mut conn = pool.acquire().await.unwrap();
            let (backend, setting): (i32, String) =
                sqlx::query_as("SELECT pg_backend_pid(), current_setting('plan_cache_mode')")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(setting, "auto");
            held.push(conn);
            if backend == pid {
                found = true;
                break;
            }
        }
        assert!(found, "the transaction's connection was not in the pool");
        drop(held);

        let functions: Vec<String> = sqlx::query_scalar(
            "SELECT p.oid::regprocedure::text FROM pg_proc p
               JOIN pg_language l ON l.oid = p.prolang
              WHERE p.pronamespace = 'public'::regnamespace AND l.lanname = 'plpgsql'
                AND NOT coalesce(p.proconfig @> ARRAY['plan_cache_mode=auto'], false)
              ORDER BY 1",
        )
        .fetch_all(app.db.pool())
        .await
        .unwrap();
        assert_eq!(
            functions,
            Vec::<String>::new(),
            "add SET plan_cache_mode = auto"
        );
        let all: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
              WHERE p.pronamespace = 'public'::regnamespace AND l.lanname = 'plpgsql'",
        )
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert!(all >= 15, "{all} functions");
    })
    .await;
}
