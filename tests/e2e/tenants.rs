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
            let token = &who.access_token;
            // (call, least role, status when allowed)
            let table = [
                (app.me(token), Needs::Member, 200),
                (app.get_tenant(token), Needs::Member, 200),
                (
                    app.update_tenant(token, json!({"name": format!("Renamed {i}")})),
                    Needs::Admin,
                    200,
                ),
                (app.list_members(token), Needs::Admin, 200),
                (
                    app.set_member_role(token, &who.user_id, role),
                    Needs::Owner,
                    200,
                ),
                (app.remove_member(token, new_id()), Needs::Admin, 404),
                (
                    app.invite_member(token, &format!("invitee-{i}@example.com"), "member"),
                    Needs::Admin,
                    200,
                ),
                (app.list_invitations(token), Needs::Admin, 200),
                (app.revoke_invitation(token, new_id()), Needs::Admin, 404),
                (app.list_tenants(token), Needs::Platform, 200),
                (app.suspend_tenant(token, new_id()), Needs::Platform, 404),
                (app.reactivate_tenant(token, new_id()), Needs::Platform, 404),
            ];
            for (call, needs, allowed_status) in table {
                let op = call.op();
                let reply = call.await;
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
        for (who, tenant) in [
            (&member, &other.tenant_id),
            (&other_admin, &owner.tenant_id),
        ] {
            app.get_tenant(&who.access_token)
                .with("id", tenant)
                .await
                .err(404, "not_found");
        }
        let got = app
            .get_tenant(&platform.access_token)
            .with("id", &owner.tenant_id)
            .await
            .ok();
        assert_eq!(got["tenant"]["slug"], owner.slug.as_str());
        app.remove_member(&other_admin.access_token, &member.user_id)
            .await
            .err(404, "not_found");
        // Admins manage members, not owners: they invite members only.
        app.invite_member(&admin.access_token, "would-be-admin@example.com", "admin")
            .await
            .err(403, "forbidden");
        app.remove_member(&admin.access_token, &owner.user_id)
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
            app.list_members(&admin.access_token)
                .encoded(Encoding::MsgPack)
                .await
        };
        assert_eq!(list().await.ok()["items"].as_array().unwrap().len(), 2);
        let demoted = app
            .set_member_role(&owner.access_token, &admin.user_id, "member")
            .encoded(Encoding::MsgPack)
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
        let set_role = |token: &str, user_id: &str, role: &str| {
            app.set_member_role(token, user_id, role).send()
        };
        let last = set_role(&owner.access_token, &owner.user_id, "admin")
            .await
            .err(409, "invalid_state");
        assert_eq!(last["details"]["state"], "last_owner");
        let removed = app
            .remove_member(&owner.access_token, &owner.user_id)
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
            app.remove_member(&owner.access_token, &second.user_id)
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
            let mut list = app.list_members(&owner.access_token).with("limit", 3);
            if let Some(cursor) = &cursor {
                list = list.with("cursor", cursor);
            }
            let enc = if pages % 2 == 0 {
                Encoding::Json
            } else {
                Encoding::MsgPack
            };
            let page = list.encoded(enc).await.ok();
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
            app.invite_member(&owner.access_token, &format!("i{i}@example.com"), "member")
                .await
                .ok();
        }
        let members = || app.list_members(&owner.access_token);
        let first = members().with("limit", 1).await.ok();
        let cursor = first["next_cursor"].as_str().unwrap().to_owned();
        let second = members()
            .with("limit", 1)
            .with("cursor", &cursor)
            .await
            .ok();
        assert_ne!(second["items"][0]["id"], first["items"][0]["id"]);

        for list in [
            app.list_invitations(&owner.access_token)
                .with("cursor", &cursor),
            app.list_members(&other.access_token)
                .with("cursor", &cursor),
            members().with("cursor", "c1.bm90IGpzb24"),
            members().with("cursor", "garbage"),
        ] {
            let op = list.op();
            let refused = list.await.err(400, "bad_request");
            assert_eq!(refused["details"]["field"], "cursor", "{op}");
        }
        for limit in [0, 101] {
            let refused = members()
                .with("limit", limit)
                .await
                .err(422, "validation_failed");
            assert!(refused["details"]["fields"]["limit"].is_array());
        }
        let all = members().with("limit", 100).await.ok();
        assert_eq!(all["items"].as_array().unwrap().len(), 3);
        assert_eq!(all["next_cursor"], Value::Null);
        let default = app.list_invitations(&owner.access_token).await.ok();
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
            app.invite_member(&owner.access_token, email, role)
                .encoded(Encoding::MsgPack)
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
        let pending = app.list_invitations(&owner.access_token).await.ok();
        let items = pending["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], second["invitation"]["id"]);
        assert_eq!(items[0]["role"], "admin");

        let accept = async |token: &str, password: &str| {
            app.accept_invite(token, password)
                .with("display_name", "Nia")
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
        app.me(access).await.ok();
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
        app.revoke_invitation(&owner.access_token, &revoked["invitation"]["id"])
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

        let revoked_events = app
            .events(Some(&owner.tenant_id), Some("invitation.revoked"), 1)
            .await;
        let data = &revoked_events[0].body["data"];
        assert_eq!(data["invitation_id"], revoked["invitation"]["id"]);
        assert_eq!(data["email"], "rex@example.com");
        assert_eq!(data["role"], "member");
        assert_eq!(revoked_events[0].body["actor_id"], owner.user_id.as_str());

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
            .update_tenant(
                &owner.access_token,
                json!({"self_registration": false, "name": "  Closed Corp "}),
            )
            .await
            .ok();
        assert_eq!(closed["tenant"]["self_registration"], false);
        assert_eq!(closed["tenant"]["name"], "Closed Corp");
        let updated = app
            .events(Some(&owner.tenant_id), Some("tenant.updated"), 1)
            .await;
        assert_eq!(
            updated[0].body["data"]["tenant"]["self_registration"],
            false
        );
        app.update_tenant(&owner.access_token, json!({"name": ""}))
            .await
            .err(422, "validation_failed");

        app.register(&owner.slug, "walk-in@example.com", GOOD_PASSWORD)
            .await
            .err(403, "forbidden");
        app.invite_member(&owner.access_token, "guest@example.com", "member")
            .await
            .ok();
        let token = invitation_token(app, &owner.tenant_id, "guest@example.com", 1).await;
        let joined = app
            .accept_invite(&token, GOOD_PASSWORD)
            .encoded(Encoding::MsgPack)
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
        app.remove_member(&admin.access_token, &member.user_id)
            .await
            .ok();
        app.get_tenant(&member.access_token)
            .refused_within(Duration::from_secs(1))
            .await;
        app.me(&member.access_token)
            .refused_within(Duration::from_secs(1))
            .await;
        app.refresh(&member.refresh_token)
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
        app.invite_member(&owner.access_token, "leaving@example.com", "member")
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
        let suspend = async |id: &str| {
            app.suspend_tenant(&platform.access_token, id)
                .encoded(Encoding::MsgPack)
                .await
        };
        let suspended = suspend(&owner.tenant_id).await.ok();
        assert_eq!(suspended["tenant"]["status"], "suspended");
        app.me(&owner.access_token)
            .refused_within(Duration::from_secs(1))
            .await;
        app.get_tenant(&owner.access_token)
            .refused_within(Duration::from_secs(1))
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
        let again = suspend(&owner.tenant_id).await.err(409, "invalid_state");
        assert_eq!(again["details"]["state"], "suspended");
        // Other tenants work on.
        app.me(&other.access_token).await.ok();

        let listed = app
            .list_tenants(&platform.access_token)
            .with("status", "suspended")
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
            .list_tenants(&platform.access_token)
            .with("limit", 2)
            .await
            .ok();
        assert_eq!(all["items"].as_array().unwrap().len(), 2);
        let rest = app
            .list_tenants(&platform.access_token)
            .with("limit", 2)
            .with("cursor", &all["next_cursor"])
            .await
            .ok();
        assert_eq!(
            rest["items"].as_array().unwrap().len(),
            1,
            "three tenants: two and platform"
        );
        assert_eq!(rest["next_cursor"], Value::Null);

        let reactivated = app
            .reactivate_tenant(&platform.access_token, &owner.tenant_id)
            .encoded(Encoding::MsgPack)
            .await
            .ok();
        assert_eq!(reactivated["tenant"]["status"], "active");
        let login = app
            .login(&owner.slug, &owner.email, GOOD_PASSWORD)
            .await
            .ok();
        let token = login["tokens"]["access_token"].as_str().unwrap();
        app.me(token).await.ok();
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
        let platform_tenant = app.get_tenant(&platform.access_token).await.ok();
        suspend(platform_tenant["tenant"]["id"].as_str().unwrap())
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
        let me = app.me(&second.access_token).await.ok();
        assert_eq!(me["user"]["email_verified"], true);
        assert_ne!(me["user"]["id"], admin.user_id.as_str());
        let taken = app
            .create_tenant("platform", "Mine", "x@example.com", GOOD_PASSWORD)
            .await
            .err(422, "validation_failed");
        assert!(taken["details"]["fields"]["slug"].is_array());
        // The platform tenant takes no registrations.
        app.register("platform", "me@example.com", GOOD_PASSWORD)
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
            let update = async |changes: Value| {
                app.update_me(&owner.access_token, changes)
                    .encoded(enc)
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
            let me = app.me(&owner.access_token).encoded(enc).await.ok();
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
        // Each successful update is a user.updated (revision 3) with the
        // user as they were then, by them; the refused ones are none.
        app.update_me(&owner.access_token, json!({"display_name": "Marker"}))
            .await
            .ok();
        let updated = app
            .events(Some(&owner.tenant_id), Some("user.updated"), 7)
            .await;
        let names: Vec<&Value> = updated
            .iter()
            .map(|e| &e.body["data"]["user"]["display_name"])
            .collect();
        assert_eq!(
            names.len(),
            7,
            "three per encoding, then the marker: {names:?}"
        );
        assert_eq!(
            names[6], "Marker",
            "no event for a refused update: {names:?}"
        );
        let first = &updated[0].body;
        assert_eq!(first["actor_id"], owner.user_id.as_str());
        assert_eq!(first["data"]["user"]["id"], owner.user_id.as_str());
        assert_eq!(first["data"]["user"]["phone"], "+493012345678");
        assert_eq!(updated[2].body["data"]["user"]["phone"], Value::Null);
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
