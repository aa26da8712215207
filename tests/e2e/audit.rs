//! The tenant's audit log (contract §5, tenant `audit.list`, revision 3):
//! its events newest first, filtered by type, actor and time, paged by
//! cursor, for owners and admins, never another tenant's, and kept apart
//! from the outbox and the stream.

use olympus_tests::{with_app, Encoding, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page of the log of `token`'s tenant with `filter`, `limit` at a
/// time.
async fn all_pages(app: &TestApp, token: &str, filter: Value, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut call = app.list_audit(token).with("limit", limit);
        for (k, v) in filter.as_object().unwrap() {
            call = call.with(k, v);
        }
        if let Some(c) = &cursor {
            call = call.with("cursor", c);
        }
        let page = call.await.ok();
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit as usize);
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

#[tokio::test]
async fn the_log_lists_the_tenants_events_newest_first_filtered_and_paged() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let owner = signup.access_token.as_str();
        let member = app
            .join(&signup, &format!("m-{}", signup.email), "member")
            .await;
        app.update_me(&member.access_token, json!({"display_name": "Mia"}))
            .await
            .ok();
        app.update_tenant(owner, json!({"name": "Renamed"}))
            .await
            .ok();
        let other = app.signup(Encoding::Json).await;
        app.update_tenant(&other.access_token, json!({"name": "Elsewhere"}))
            .await
            .ok();

        // Everything, in both encodings: the section 7 envelope, newest first.
        for encoding in Encoding::BOTH {
            let page = app.list_audit(owner).encoded(encoding).await.ok();
            let items = page["items"].as_array().unwrap();
            assert_eq!(items[0]["type"], "tenant.updated");
            let keys: BTreeSet<&str> = items[0]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from([
                    "id",
                    "type",
                    "tenant_id",
                    "occurred_at",
                    "correlation_id",
                    "actor_id",
                    "schema_version",
                    "data"
                ])
            );
            assert_eq!(items[0]["data"]["tenant"]["name"], "Renamed");
            assert_eq!(items[0]["actor_id"], signup.user_id.as_str());
            let ids: Vec<&str> = items.iter().map(|e| e["id"].as_str().unwrap()).collect();
            let mut sorted = ids.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(ids, sorted, "newest first");
            assert!(items
                .iter()
                .all(|e| e["tenant_id"] == signup.tenant_id.as_str()));
        }
        let everything = all_pages(app, owner, json!({}), 2).await;
        let all_types: Vec<String> = everything
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            all_types.contains(&"tenant.created".to_owned()),
            "{all_types:?}"
        );
        assert!(
            all_types.contains(&"user.updated".to_owned()),
            "{all_types:?}"
        );
        let distinct: BTreeSet<&str> = everything
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            distinct.len(),
            everything.len(),
            "no event twice across pages"
        );
        // The same events the stream has for the tenant.
        let published = app
            .events(Some(&signup.tenant_id), None, everything.len())
            .await;
        assert_eq!(published.len(), everything.len());

        // By type, by actor, by time.
        let by_type = app
            .list_audit(owner)
            .with("type", "user.updated")
            .await
            .ok();
        assert_eq!(types(&by_type), ["user.updated"]);
        assert_eq!(by_type["items"][0]["data"]["user"]["display_name"], "Mia");
        let by_actor = all_pages(app, owner, json!({"actor_id": member.user_id}), 10).await;
        assert!(!by_actor.is_empty());
        assert!(by_actor
            .iter()
            .all(|e| e["actor_id"] == member.user_id.as_str()));
        let renamed = &by_type["items"][0]["occurred_at"];
        let since = all_pages(app, owner, json!({"since": renamed}), 10).await;
        assert!(since
            .iter()
            .all(|e| e["occurred_at"].as_str() >= renamed.as_str()));
        assert!(since.iter().any(|e| e["type"] == "tenant.updated"));
        let until = all_pages(app, owner, json!({"until": renamed}), 10).await;
        assert!(until
            .iter()
            .all(|e| e["occurred_at"].as_str() < renamed.as_str()));
        assert_eq!(since.len() + until.len(), everything.len());
        app.list_audit(owner)
            .with("since", renamed)
            .with("until", renamed)
            .await
            .err(422, "validation_failed");
        app.list_audit(owner)
            .with("type", "no.such_type")
            .await
            .err(400, "bad_request");

        // A cursor belongs to its filter and tenant.
        let first = app.list_audit(owner).with("limit", 1).await.ok();
        let cursor = first["next_cursor"].as_str().unwrap();
        app.list_audit(owner)
            .with("cursor", cursor)
            .with("type", "user.updated")
            .await
            .err(400, "bad_request");
        app.list_audit(&other.access_token)
            .with("cursor", cursor)
            .await
            .err(400, "bad_request");
        // The other tenant sees its own events only.
        let theirs = all_pages(app, &other.access_token, json!({}), 50).await;
        assert!(theirs
            .iter()
            .all(|e| e["tenant_id"] == other.tenant_id.as_str()));
        assert!(!theirs.is_empty());
    })
    .await;
}

#[tokio::test]
async fn members_may_not_read_the_log_and_it_outlives_the_outbox() {
    with_app(async |app| {
        let signup = app.signup(Encoding::Json).await;
        let admin = app
            .join(&signup, &format!("a-{}", signup.email), "admin")
            .await;
        let member = app
            .join(&signup, &format!("m-{}", signup.email), "member")
            .await;
        app.list_audit(&member.access_token)
            .await
            .err(403, "forbidden");
        app.list_audit(&admin.access_token).await.ok();
        // Published and pruned from the outbox, the events stay in the log.
        app.outbox_published(std::time::Duration::from_secs(10))
            .await
            .unwrap();
        let before = all_pages(app, &signup.access_token, json!({}), 100).await;
        sqlx::query("DELETE FROM outbox WHERE tenant_id = $1::uuid")
            .bind(&signup.tenant_id)
            .execute(app.db.pool())
            .await
            .unwrap();
        let after = all_pages(app, &signup.access_token, json!({}), 100).await;
        assert_eq!(before, after);
        // And go once their retention is over (the relay's housekeeping).
        let oldest = before.last().unwrap()["id"].as_str().unwrap().to_owned();
        sqlx::query(
            "UPDATE audit_events SET occurred_at = now() - interval '366 days' WHERE id = $1::uuid",
        )
        .bind(&oldest)
        .execute(app.db.pool())
        .await
        .unwrap();
        let prune = olympus_tenant::audit::housekeeping(&app.config());
        assert_eq!(
            prune.retention,
            std::time::Duration::from_secs(365 * 86_400)
        );
        sqlx::query(prune.statement)
            .bind(prune.retention.as_secs_f64())
            .execute(app.db.pool())
            .await
            .unwrap();
        let pruned = all_pages(app, &signup.access_token, json!({}), 100).await;
        assert_eq!(pruned.len(), before.len() - 1);
        assert!(pruned.iter().all(|e| e["id"] != oldest.as_str()));
    })
    .await;
}
