//! Tenant administration (contract §5 tenant, revision 2): roles checked
//! against the current role, the last owner, pages, invitations, closed
//! registration, platform administrators, suspension.

use olympus_tests::client::GOOD_PASSWORD;
use olympus_tests::{with_app, Encoding, Member, Signup, TestApp};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Who an actor is, for the role table.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Actor {
    Member,
    Admin,
    Owner,
    PlatformAdmin,
    /// An admin of another tenant.
    OtherAdmin,
}

/// The least role an operation needs, as contract §5 says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Needs {
    Member,
    Admin,
    Owner,
    Platform,
}

impl Needs {
    fn allows(self, actor: Actor) -> bool {
        match self {
            Needs::Member => true,
            Needs::Admin => actor != Actor::Member,
            // The platform administrator owns the tenant `platform`.
            Needs::Owner => matches!(actor, Actor::Owner | Actor::PlatformAdmin),
            Needs::Platform => actor == Actor::PlatformAdmin,
        }
    }
}

#[tokio::test]
async fn every_operation_lets_exactly_its_roles_in() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let other = app.signup(Encoding::Json).await;
        let member = app.join(&owner, "member@example.com", "member").await;
        let admin = app.join(&owner, "admin@example.com", "admin").await;
        let other_admin = app.join(&other, "admin@other.example.com", "admin").await;
        let platform = app.platform_admin("root@platform.example.com").await;
        let owner_member = Member {
            user_id: owner.user_id.clone(),
            email: owner.email.clone(),
            access_token: owner.access_token.clone(),
            refresh_token: owner.refresh_token.clone(),
        };
        let actors = [
            (Actor::Member, &member, "member"),
            (Actor::Admin, &admin, "admin"),
            (Actor::Owner, &owner_member, "owner"),
            (Actor::PlatformAdmin, &platform, "owner"),
            (Actor::OtherAdmin, &other_admin, "admin"),
        ];
        for (i, (actor, who, role)) in actors.into_iter().enumerate() {
            // (operation, body, least role, status when allowed)
            let table: Vec<(&str, Value, Needs, u16)> = vec![
                ("auth.v1.me", json!({}), Needs::Member, 200),
                ("tenant.v1.get", json!({}), Needs::Member, 200),
                (
                    "tenant.v1.update",
                    json!({"name": format!("Renamed {i}")}),
                    Needs::Admin,
                    200,
                ),
                ("tenant.v1.members.list", json!({}), Needs::Admin, 200),
                (
                    "tenant.v1.members.set_role",
                    json!({"user_id": who.user_id, "role": role}),
                    Needs::Owner,
                    200,
                ),
                (
                    "tenant.v1.members.remove",
                    json!({"user_id": new_id()}),
                    Needs::Admin,
                    404,
                ),
                (
                    "tenant.v1.members.invite",
                    json!({"email": format!("invitee-{i}@example.com"), "role": "member"}),
                    Needs::Admin,
                    200,
                ),
                (
                    "tenant.v1.members.invitations.list",
                    json!({}),
                    Needs::Admin,
                    200,
                ),
                (
                    "tenant.v1.members.invitations.revoke",
                    json!({"id": new_id()}),
                    Needs::Admin,
                    404,
                ),
                ("tenant.v1.list", json!({}), Needs::Platform, 200),
                (
                    "tenant.v1.suspend",
                    json!({"id": new_id()}),
                    Needs::Platform,
                    404,
                ),
                (
                    "tenant.v1.reactivate",
                    json!({"id": new_id()}),
                    Needs::Platform,
                    404,
                ),
            ];
            for (op, body, needs, allowed_status) in table {
                let reply = app
                    .call(Encoding::Json, op, Some(&who.access_token), body)
                    .await;
                if needs.allows(actor) {
                    assert_eq!(
                        reply.status(),
                        allowed_status,
                        "{actor:?} on {op}: {:?}",
                        reply.body()
                    );
                } else {
                    reply.err(403, "forbidden");
                }
            }
        }

        // Another tenant is out of reach, except for platform administrators.
        let get_owner_tenant = json!({"id": owner.tenant_id});
        for (who, tenant) in [
            (&member, &other.tenant_id),
            (&other_admin, &owner.tenant_id),
        ] {
            app.call(
                Encoding::Json,
                "tenant.v1.get",
                Some(&who.access_token),
                json!({"id": tenant}),
            )
            .await
            .err(404, "not_found");
        }
        let got = app
            .call(
                Encoding::Json,
                "tenant.v1.get",
                Some(&platform.access_token),
                get_owner_tenant,
            )
            .await
            .ok();
        assert_eq!(got["tenant"]["slug"], owner.slug.as_str());
        app.call(
            Encoding::Json,
            "tenant.v1.members.remove",
            Some(&other_admin.access_token),
            json!({"user_id": member.user_id}),
        )
        .await
        .err(404, "not_found");
        // Admins manage members, not owners: they invite members only.
        app.call(
            Encoding::Json,
            "tenant.v1.members.invite",
            Some(&admin.access_token),
            json!({"email": "would-be-admin@example.com", "role": "admin"}),
        )
        .await
        .err(403, "forbidden");
        app.call(
            Encoding::Json,
            "tenant.v1.members.remove",
            Some(&admin.access_token),
            json!({"user_id": owner.user_id}),
        )
        .await
        .err(403, "forbidden");
    })
    .await;
}

#[tokio::test]
async fn a_demoted_admin_is_refused_on_the_next_request() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let admin = app.join(&owner, "admin@example.com", "admin").await;
        let list = async || {
            app.call(
                Encoding::MsgPack,
                "tenant.v1.members.list",
                Some(&admin.access_token),
                json!({}),
            )
            .await
        };
        assert_eq!(list().await.ok()["items"].as_array().unwrap().len(), 2);
        let demoted = app
            .call(
                Encoding::MsgPack,
                "tenant.v1.members.set_role",
                Some(&owner.access_token),
                json!({"user_id": admin.user_id, "role": "member"}),
            )
            .await
            .ok();
        assert_eq!(demoted["user"]["role"], "member");
        // The same access token (it still says "admin"), the very next request.
        list().await.err(403, "forbidden");
        let changed = app
            .events(Some(&owner.tenant_id), Some("member.role_changed"), 2)
            .await;
        let last = &changed.last().unwrap().body;
        assert_eq!(
            last["data"],
            json!({"user_id": admin.user_id, "from": "admin", "to": "member"})
        );
        assert_eq!(last["actor_id"], owner.user_id.as_str());
    })
    .await;
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let set_role = async |token: &str, user_id: &str, role: &str| {
            app.call(
                Encoding::Json,
                "tenant.v1.members.set_role",
                Some(token),
                json!({"user_id": user_id, "role": role}),
            )
            .await
        };
        let last = set_role(&owner.access_token, &owner.user_id, "admin")
            .await
            .err(409, "invalid_state");
        assert_eq!(last["details"]["state"], "last_owner");
        let removed = app
            .call(
                Encoding::Json,
                "tenant.v1.members.remove",
                Some(&owner.access_token),
                json!({"user_id": owner.user_id}),
            )
            .await
            .err(409, "invalid_state");
        assert_eq!(removed["details"]["state"], "last_owner");

        // Two owners demoting each other at once: exactly one wins, and
        // the tenant keeps an owner.
        for round in 0..5 {
            let second = app
                .join(&owner, &format!("second-{round}@example.com"), "owner")
                .await;
            let (a, b) = tokio::join!(
                set_role(&owner.access_token, &second.user_id, "member"),
                set_role(&second.access_token, &owner.user_id, "member"),
            );
            // The loser is refused by the last-owner rule (409) or, when
            // the winner committed before its request arrived, because it
            // is no longer an owner (403).
            let statuses = [a.status(), b.status()];
            assert!(
                matches!(statuses, [200, 409 | 403] | [409 | 403, 200]),
                "round {round}: {statuses:?}"
            );
            let owners: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM users WHERE tenant_id = $1::uuid AND role = 'owner'",
            )
            .bind(&owner.tenant_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
            assert_eq!(owners, 1, "round {round}");
            if b.status() == 200 {
                // `second` won and is now the only owner: hand it back.
                set_role(&second.access_token, &owner.user_id, "owner")
                    .await
                    .ok();
            }
            app.call(
                Encoding::Json,
                "tenant.v1.members.remove",
                Some(&owner.access_token),
                json!({"user_id": second.user_id}),
            )
            .await
            .ok();
        }
    })
    .await;
}

#[tokio::test]
async fn pages_neither_skip_nor_repeat_while_members_are_inserted() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let insert = |id: uuid::Uuid| {
            let pool = app.db.pool().clone();
            let tenant = owner.tenant_id.clone();
            async move {
                sqlx::query(
                    "INSERT INTO users (id, tenant_id, email, display_name, role, password_hash)
                     VALUES ($1, $2::uuid, $3, 'Paged', 'member', 'x')",
                )
                .bind(id)
                .bind(tenant)
                .bind(format!("{id}@example.com"))
                .execute(&pool)
                .await
                .unwrap();
            }
        };
        for _ in 0..11 {
            insert(uuid::Uuid::now_v7()).await;
        }
        let before: Vec<String> =
            sqlx::query_scalar("SELECT id::text FROM users WHERE tenant_id = $1::uuid ORDER BY id")
                .bind(&owner.tenant_id)
                .fetch_all(app.db.pool())
                .await
                .unwrap();
        assert_eq!(before.len(), 12);

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut body = json!({"limit": 3});
            if let Some(cursor) = &cursor {
                body["cursor"] = json!(cursor);
            }
            let enc = if pages % 2 == 0 {
                Encoding::Json
            } else {
                Encoding::MsgPack
            };
            let page = app
                .call(
                    enc,
                    "tenant.v1.members.list",
                    Some(&owner.access_token),
                    body,
                )
                .await
                .ok();
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 3);
            seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
            pages += 1;
            // Between pages: members with later ids and with random
            // (earlier or later) ids arrive.
            if pages < 6 {
                insert(uuid::Uuid::now_v7()).await;
                insert(uuid::Uuid::new_v4()).await;
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(pages < 50, "the listing does not end");
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "a member was listed twice");
        for id in &before {
            assert!(unique.contains(id), "member {id} was skipped");
        }
        let mut sorted = seen.clone();
        sorted.sort_by_key(|id| uuid::Uuid::parse_str(id).unwrap());
        assert_eq!(sorted, seen, "members come in id order");
        assert!(seen.len() > before.len(), "later members are listed too");
    })
    .await;
}

#[tokio::test]
async fn cursors_and_limits_of_another_list_or_tenant_are_refused() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let other = app.signup(Encoding::Json).await;
        for i in 0..2 {
            app.join(&owner, &format!("m{i}@example.com"), "member")
                .await;
        }
        for i in 0..2 {
            app.call(
                Encoding::Json,
                "tenant.v1.members.invite",
                Some(&owner.access_token),
                json!({"email": format!("i{i}@example.com"), "role": "member"}),
            )
            .await
            .ok();
        }
        let list = async |op: &str, token: &str, body: Value| {
            app.call(Encoding::Json, op, Some(token), body).await
        };
        let first = list(
            "tenant.v1.members.list",
            &owner.access_token,
            json!({"limit": 1}),
        )
        .await
        .ok();
        let cursor = first["next_cursor"].as_str().unwrap().to_owned();
        let second = list(
            "tenant.v1.members.list",
            &owner.access_token,
            json!({"limit": 1, "cursor": cursor}),
        )
        .await
        .ok();
        assert_ne!(second["items"][0]["id"], first["items"][0]["id"]);

        for (op, token, body) in [
            (
                "tenant.v1.members.invitations.list",
                &owner.access_token,
                json!({"cursor": cursor}),
            ),
            (
                "tenant.v1.members.list",
                &other.access_token,
                json!({"cursor": cursor}),
            ),
            (
                "tenant.v1.members.list",
                &owner.access_token,
                json!({"cursor": "c1.bm90IGpzb24"}),
            ),
            (
                "tenant.v1.members.list",
                &owner.access_token,
                json!({"cursor": "garbage"}),
            ),
        ] {
            let refused = list(op, token, body).await.err(400, "bad_request");
            assert_eq!(refused["details"]["field"], "cursor", "{op}");
        }
        for limit in [0, 101] {
            let refused = list(
                "tenant.v1.members.list",
                &owner.access_token,
                json!({"limit": limit}),
            )
            .await
            .err(422, "validation_failed");
            assert!(refused["details"]["fields"]["limit"].is_array());
        }
        let all = list(
            "tenant.v1.members.list",
            &owner.access_token,
            json!({"limit": 100}),
        )
        .await
        .ok();
        assert_eq!(all["items"].as_array().unwrap().len(), 3);
        assert_eq!(all["next_cursor"], Value::Null);
        let default = list(
            "tenant.v1.members.invitations.list",
            &owner.access_token,
            json!({}),
        )
        .await
        .ok();
        assert_eq!(default["items"].as_array().unwrap().len(), 2);
    })
    .await;
}

/// The invitation token of the newest `invite` mail to `to`.
async fn invitation_token(app: &TestApp, tenant_id: &str, to: &str, count: usize) -> String {
    let mail = app.mail(Some(tenant_id), Some("invite"), count).await;
    let mail = mail
        .iter()
        .rev()
        .find(|m| m.body["to"] == to)
        .unwrap_or_else(|| panic!("no invite mail to {to}"));
    assert_eq!(mail.body["template"], "invite");
    assert_eq!(mail.body["user_id"], Value::Null);
    mail.body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_invitation_is_mailed_accepted_once_and_replaced_by_a_newer_one() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let invite = async |email: &str, role: &str| {
            app.call(
                Encoding::MsgPack,
                "tenant.v1.members.invite",
                Some(&owner.access_token),
                json!({"email": email, "role": role}),
            )
            .await
        };
        let first = invite("  Nia@Example.com ", "member").await.ok();
        let invitation = &first["invitation"];
        assert_eq!(
            keys(invitation),
            ["created_at", "email", "expires_at", "id", "role"]
        );
        assert_eq!(invitation["email"], "nia@example.com");
        let old_token = invitation_token(app, &owner.tenant_id, "nia@example.com", 1).await;
        // A newer invitation replaces the older one.
        let second = invite("nia@example.com", "admin").await.ok();
        let token = invitation_token(app, &owner.tenant_id, "nia@example.com", 1).await;
        assert_ne!(token, old_token);
        let pending = app
            .call(
                Encoding::Json,
                "tenant.v1.members.invitations.list",
                Some(&owner.access_token),
                json!({}),
            )
            .await
            .ok();
        let items = pending["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], second["invitation"]["id"]);
        assert_eq!(items[0]["role"], "admin");

        let accept = async |token: &str, password: &str| {
            app.call(
                Encoding::Json,
                "auth.v1.accept_invite",
                None,
                json!({"token": token, "password": password, "display_name": "Nia"}),
            )
            .await
        };
        accept(&old_token, GOOD_PASSWORD)
            .await
            .err(401, "invalid_token");
        // A refused password leaves the invitation usable.
        let weak = accept(&token, "nia-example")
            .await
            .err(422, "validation_failed");
        assert!(weak["details"]["fields"]["password"].is_array());
        let joined = accept(&token, GOOD_PASSWORD).await.ok();
        assert_eq!(joined["user"]["email"], "nia@example.com");
        assert_eq!(joined["user"]["role"], "admin");
        assert_eq!(joined["user"]["email_verified"], true);
        assert_eq!(joined["user"]["display_name"], "Nia");
        assert_eq!(joined["user"]["tenant_id"], owner.tenant_id.as_str());
        let access = joined["tokens"]["access_token"].as_str().unwrap();
        app.call(Encoding::Json, "auth.v1.me", Some(access), json!({}))
            .await
            .ok();
        accept(&token, GOOD_PASSWORD)
            .await
            .err(401, "invalid_token");
        app.login(&owner.slug, "nia@example.com", GOOD_PASSWORD)
            .await
            .ok();
        // No verification mail for an invited member: the invitation proved the address.
        let verify = app
            .mail(Some(&owner.tenant_id), Some("verify_email"), 1)
            .await;
        assert!(verify.iter().all(|m| m.body["to"] != "nia@example.com"));

        let taken = invite("nia@example.com", "member")
            .await
            .err(409, "conflict");
        assert_eq!(taken["details"]["field"], "email");
        let owner_role = invite("someone@example.com", "owner")
            .await
            .err(422, "validation_failed");
        assert!(owner_role["details"]["fields"]["role"].is_array());

        // Revoked: the token stops working, and it is gone from the list.
        let revoked = invite("rex@example.com", "member").await.ok();
        let rex_token = invitation_token(app, &owner.tenant_id, "rex@example.com", 1).await;
        app.call(
            Encoding::Json,
            "tenant.v1.members.invitations.revoke",
            Some(&owner.access_token),
            json!({"id": revoked["invitation"]["id"]}),
        )
        .await
        .ok();
        accept(&rex_token, GOOD_PASSWORD)
            .await
            .err(401, "invalid_token");

        // Expired after 7 days.
        invite("late@example.com", "member").await.ok();
        let late_token = invitation_token(app, &owner.tenant_id, "late@example.com", 1).await;
        app.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
        accept(&late_token, GOOD_PASSWORD)
            .await
            .err(401, "invalid_token");

        let invited = app
            .events(Some(&owner.tenant_id), Some("member.invited"), 4)
            .await;
        let data = &invited[0].body["data"];
        assert_eq!(data["email"], "nia@example.com");
        assert_eq!(data["role"], "member");
        for event in &invited {
            let text = event.body.to_string();
            assert!(
                !text.contains(&token) && !text.contains(&old_token),
                "no token in events"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_closed_tenant_admits_by_invitation_only() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let closed = app
            .call(
                Encoding::Json,
                "tenant.v1.update",
                Some(&owner.access_token),
                json!({"self_registration": false, "name": "  Closed Corp "}),
            )
            .await
            .ok();
        assert_eq!(closed["tenant"]["self_registration"], false);
        assert_eq!(closed["tenant"]["name"], "Closed Corp");
        let updated = app
            .events(Some(&owner.tenant_id), Some("tenant.updated"), 1)
            .await;
        assert_eq!(updated[0].body["data"]["tenant"]["self_registration"], false);
        app.call(
            Encoding::Json,
            "tenant.v1.update",
            Some(&owner.access_token),
            json!({"name": ""}),
        )
        .await
        .err(422, "validation_failed");

        app.call(
            Encoding::Json,
            "auth.v1.register",
            None,
            json!({"tenant": owner.slug, "email": "walk-in@example.com", "password": GOOD_PASSWORD}),
        )
        .await
        .err(403, "forbidden");
        app.call(
            Encoding::Json,
            "tenant.v1.members.invite",
            Some(&owner.access_token),
            json!({"email": "guest@example.com", "role": "member"}),
        )
        .await
        .ok();
        let token = invitation_token(app, &owner.tenant_id, "guest@example.com", 1).await;
        let joined = app
            .call(
                Encoding::MsgPack,
                "auth.v1.accept_invite",
                None,
                json!({"token": token, "password": GOOD_PASSWORD}),
            )
            .await
            .ok();
        assert_eq!(joined["user"]["role"], "member");
        assert_eq!(joined["user"]["display_name"], "guest");
    })
    .await;
}

#[tokio::test]
async fn removing_a_member_ends_their_sessions_everywhere() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let admin = app.join(&owner, "admin@example.com", "admin").await;
        let member = app.join(&owner, "leaving@example.com", "member").await;
        app.call(
            Encoding::Json,
            "tenant.v1.members.remove",
            Some(&admin.access_token),
            json!({"user_id": member.user_id}),
        )
        .await
        .ok();
        app.refused_within(
            Duration::from_secs(1),
            "tenant.v1.get",
            &member.access_token,
        )
        .await;
        app.refused_within(Duration::from_secs(1), "auth.v1.me", &member.access_token)
            .await;
        app.call(
            Encoding::Json,
            "auth.v1.refresh",
            None,
            json!({"refresh_token": member.refresh_token}),
        )
        .await
        .err(401, "invalid_token");
        app.login(&owner.slug, &member.email, GOOD_PASSWORD)
            .await
            .err(401, "invalid_credentials");
        let removed = app
            .events(Some(&owner.tenant_id), Some("member.removed"), 1)
            .await;
        assert_eq!(
            removed[0].body["data"],
            json!({"user_id": member.user_id, "email": "leaving@example.com"})
        );
        let revoked = app
            .events(Some(&owner.tenant_id), Some("session.revoked"), 1)
            .await;
        assert_eq!(revoked[0].body["data"]["reason"], "member_removed");
        // The address may be invited back.
        app.call(
            Encoding::Json,
            "tenant.v1.members.invite",
            Some(&owner.access_token),
            json!({"email": "leaving@example.com", "role": "member"}),
        )
        .await
        .ok();
    })
    .await;
}

#[tokio::test]
async fn suspension_refuses_logins_and_live_tokens_until_reactivation() {
    with_app(async |app| {
        let owner = app.signup(Encoding::Json).await;
        let other = app.signup(Encoding::Json).await;
        let platform = app.platform_admin("root@platform.example.com").await;
        let status = async |op: &str, id: &str| {
            app.call(
                Encoding::MsgPack,
                op,
                Some(&platform.access_token),
                json!({"id": id}),
            )
            .await
        };
        let suspended = status("tenant.v1.suspend", &owner.tenant_id).await.ok();
        assert_eq!(suspended["tenant"]["status"], "suspended");
        app.refused_within(Duration::from_secs(1), "auth.v1.me", &owner.access_token)
            .await;
        app.refused_within(Duration::from_secs(1), "tenant.v1.get", &owner.access_token)
            .await;
        // The same reply as a wrong password, byte for byte.
        let right = app.login(&owner.slug, &owner.email, GOOD_PASSWORD).await;
        let wrong = app
            .login(&other.slug, &other.email, "not-the-password")
            .await;
        right.err(401, "invalid_credentials");
        assert_eq!(
            strip_correlation(&right.body()),
            strip_correlation(&wrong.body())
        );
        let again = status("tenant.v1.suspend", &owner.tenant_id)
            .await
            .err(409, "invalid_state");
        assert_eq!(again["details"]["state"], "suspended");
        // Other tenants work on.
        app.call(
            Encoding::Json,
            "auth.v1.me",
            Some(&other.access_token),
            json!({}),
        )
        .await
        .ok();

        let listed = app
            .call(
                Encoding::Json,
                "tenant.v1.list",
                Some(&platform.access_token),
                json!({"status": "suspended"}),
            )
            .await
            .ok();
        let ids: Vec<&str> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [owner.tenant_id.as_str()]);
        let all = app
            .call(
                Encoding::Json,
                "tenant.v1.list",
                Some(&platform.access_token),
                json!({"limit": 2}),
            )
            .await
            .ok();
        assert_eq!(all["items"].as_array().unwrap().len(), 2);
        let rest = app
            .call(
                Encoding::Json,
                "tenant.v1.list",
                Some(&platform.access_token),
                json!({"limit": 2, "cursor": all["next_cursor"]}),
            )
            .await
            .ok();
        assert_eq!(
            rest["items"].as_array().unwrap().len(),
            1,
            "three tenants: two and platform"
        );
        assert_eq!(rest["next_cursor"], Value::Null);

        let reactivated = status("tenant.v1.reactivate", &owner.tenant_id).await.ok();
        assert_eq!(reactivated["tenant"]["status"], "active");
        let login = app
            .login(&owner.slug, &owner.email, GOOD_PASSWORD)
            .await
            .ok();
        let token = login["tokens"]["access_token"].as_str().unwrap();
        app.call(Encoding::Json, "auth.v1.me", Some(token), json!({}))
            .await
            .ok();
        for event_type in ["tenant.suspended", "tenant.reactivated"] {
            let events = app
                .events(Some(&owner.tenant_id), Some(event_type), 1)
                .await;
            assert_eq!(events[0].body["actor_id"], platform.user_id.as_str());
            assert_eq!(
                events[0].body["data"]["tenant"]["id"],
                owner.tenant_id.as_str()
            );
        }
        // The platform's own tenant cannot be suspended.
        let platform_tenant = app
            .call(
                Encoding::Json,
                "tenant.v1.get",
                Some(&platform.access_token),
                json!({}),
            )
            .await
            .ok();
        status(
            "tenant.v1.suspend",
            platform_tenant["tenant"]["id"].as_str().unwrap(),
        )
        .await
        .err(403, "forbidden");
    })
    .await;
}

fn strip_correlation(body: &Value) -> Value {
    let mut body = body.clone();
    body.as_object_mut().unwrap().remove("correlation_id");
    body
}

#[tokio::test]
async fn bootstrap_refuses_an_existing_address_and_the_platform_slug_stays_reserved() {
    with_app(async |app| {
        let admin = app.platform_admin("root@platform.example.com").await;
        let again = olympus::bootstrap::run(
            &app.db,
            &app.subjects,
            "root@platform.example.com",
            &olympus_contracts::Secret::new(GOOD_PASSWORD),
            app.options.argon2_params,
        )
        .await
        .unwrap_err();
        assert!(
            format!("{again:#}").contains("already a platform administrator"),
            "{again:#}"
        );
        // A second administrator joins the same tenant.
        let second = app.platform_admin("ops@platform.example.com").await;
        let tenants: i64 =
            sqlx::query_scalar("SELECT count(*) FROM tenants WHERE slug = 'platform'")
                .fetch_one(app.db.pool())
                .await
                .unwrap();
        assert_eq!(tenants, 1);
        let me = app
            .call(
                Encoding::Json,
                "auth.v1.me",
                Some(&second.access_token),
                json!({}),
            )
            .await
            .ok();
        assert_eq!(me["user"]["email_verified"], true);
        assert_ne!(me["user"]["id"], admin.user_id.as_str());
        let taken = app
            .call(
                Encoding::Json,
                "tenant.v1.create",
                None,
                json!({"slug": "platform", "name": "Mine", "owner": {
                    "email": "x@example.com", "password": GOOD_PASSWORD}}),
            )
            .await
            .err(422, "validation_failed");
        assert!(taken["details"]["fields"]["slug"].is_array());
        // The platform tenant takes no registrations.
        app.call(
            Encoding::Json,
            "auth.v1.register",
            None,
            json!({"tenant": "platform", "email": "me@example.com", "password": GOOD_PASSWORD}),
        )
        .await
        .err(403, "forbidden");
    })
    .await;
}

#[tokio::test]
async fn update_me_changes_the_name_and_a_normalized_phone() {
    with_app(async |app| {
        let owner: Signup = app.signup(Encoding::Json).await;
        for enc in Encoding::BOTH {
            let update = async |body: Value| {
                app.call(enc, "auth.v1.update_me", Some(&owner.access_token), body)
                    .await
            };
            let user = update(json!({"phone": "+49 30 1234-5678", "display_name": " Ada L. "}))
                .await
                .ok();
            assert_eq!(user["user"]["phone"], "+493012345678");
            assert_eq!(user["user"]["display_name"], "Ada L.");
            // Absent fields stay as they are.
            let user = update(json!({})).await.ok();
            assert_eq!(user["user"]["phone"], "+493012345678");
            assert_eq!(user["user"]["display_name"], "Ada L.");
            let me = app
                .call(enc, "auth.v1.me", Some(&owner.access_token), json!({}))
                .await
                .ok();
            assert_eq!(me["user"]["phone"], "+493012345678");
            // nil removes the phone.
            let user = update(json!({"phone": null})).await.ok();
            assert_eq!(user["user"]["phone"], Value::Null);
            assert_eq!(user["user"]["display_name"], "Ada L.");
            let bad = update(json!({"phone": "030 123456", "display_name": ""}))
                .await
                .err(422, "validation_failed");
            let fields = bad["details"]["fields"].as_object().unwrap();
            assert!(fields.contains_key("phone") && fields.contains_key("display_name"));
            update(json!({"phone": "+999 1234567"}))
                .await
                .err(422, "validation_failed");
            update(json!({"phone": 4930123456_u64}))
                .await
                .err(400, "bad_request");
            update(json!({"email": "new@example.com"}))
                .await
                .err(400, "bad_request");
        }
    })
    .await;
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}
