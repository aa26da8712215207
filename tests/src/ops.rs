//! One helper per operation of the catalog (`contracts/src/operation.rs`),
//! named after it: `app.me(token)`, `app.create_order(token, &lines)`.
//!
//! Each builds the request as a JSON value from the contract's field names
//! (never from the Rust contract types, like the rest of the harness) and
//! returns a [`Call`]: nothing is sent until it is awaited, and awaiting it
//! gives the [`Reply`], to assert with `.ok()` or `.err(status, code)`.
//!
//! - The bearer token (`&str`) comes first where the operation needs one.
//! - Required fields are arguments, in the contract's order; ids are
//!   anything that serializes to one (a `&str`, or a `&Value` out of a
//!   reply), sent as given.
//! - Optional fields are added with [`Call::with`]; `update_me` and
//!   `update_tenant`, whose fields are all changes, take them as one object.
//! - JSON unless [`Call::encoded`] says otherwise; an `Idempotency-Key` with
//!   [`Call::key`] (operations marked I: `invite_member`, `create_product`,
//!   `adjust_inventory`, `create_order`, `cancel_order`, `fulfill_order` and
//!   the four payment operations); other headers with [`Call::header`].
//!
//! Tests about the wire itself (encodings, unknown or mistyped fields, raw
//! bytes) spell their requests with [`TestApp::call`] or [`TestApp::raw`].

use std::future::IntoFuture;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{json, Value};

use crate::app::TestApp;
use crate::client::{request_headers, Encoding, Reply, Signup};

/// A request to one operation, sent when awaited (a clone sends it again).
#[derive(Clone)]
#[must_use = "a call is sent only when awaited"]
pub struct Call<'a> {
    app: &'a TestApp,
    op: &'static str,
    token: Option<String>,
    key: Option<String>,
    headers: Vec<(String, String)>,
    encoding: Encoding,
    body: Value,
}

impl<'a> Call<'a> {
    /// The operation, e.g. `auth.v1.me`.
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// Sent in `encoding` rather than JSON.
    pub fn encoded(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// With `Idempotency-Key: key`.
    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    /// With the header `name: value` too, as the gateway adds
    /// `X-Client-Ip` or `X-Correlation-Id`.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// With the field `field` (`owner.display_name` names a nested one) set
    /// to `value`, as given.
    pub fn with(mut self, field: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).expect("a JSON value");
        let mut target = &mut self.body;
        for name in field.split('.') {
            target = &mut target[name];
        }
        *target = value;
        self
    }

    /// Asserts that it is answered `unauthenticated` within `limit`, and
    /// succeeds until then (sent every 20 ms: revocation reaches every
    /// process within a second); returns how long it took.
    pub async fn refused_within(self, limit: std::time::Duration) -> std::time::Duration {
        let op = self.op;
        let started = std::time::Instant::now();
        loop {
            let reply = self.clone().await;
            if reply.status() == 401 {
                reply.err(401, "unauthenticated");
                return started.elapsed();
            }
            reply.ok();
            assert!(
                started.elapsed() < limit,
                "{op} still accepted the token after {limit:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Sends it: the future of its reply, for `join_all` (awaiting the
    /// call does the same).
    pub fn send(self) -> BoxFuture<'a, Reply> {
        let mut headers =
            request_headers(self.encoding, self.token.as_deref(), self.key.as_deref());
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        let payload = self.encoding.encode(&self.body);
        Box::pin(self.app.raw(self.op, headers, payload))
    }

    /// Every item of a listing: the call, then again with each page's
    /// `next_cursor` until there is none. Each page must succeed.
    pub async fn every_page(self) -> Vec<Value> {
        let (mut items, mut cursor) = (Vec::new(), None::<Value>);
        loop {
            let mut call = self.clone();
            if let Some(cursor) = cursor {
                call = call.with("cursor", cursor);
            }
            let page = call.await.ok();
            items.extend(
                page["items"]
                    .as_array()
                    .expect("a page's items")
                    .iter()
                    .cloned(),
            );
            cursor = Some(page["next_cursor"].clone()).filter(|c| !c.is_null());
            if cursor.is_none() {
                return items;
            }
        }
    }

    /// Sends it again while it is answered `unavailable` (overload: a full
    /// pool or queue), as a client is told to, for up to 30 s: for tests
    /// whose claim is about what the requests do (50 orders for 10 units
    /// sell 10), not about how a loaded machine sheds them.
    pub fn send_until_served(self) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let reply = self.clone().send().await;
                if reply.status() != 503 || tokio::time::Instant::now() > deadline {
                    return reply;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    }
}

impl<'a> IntoFuture for Call<'a> {
    type Output = Reply;
    type IntoFuture = BoxFuture<'a, Reply>;

    fn into_future(self) -> Self::IntoFuture {
        self.send()
    }
}

/// An amount of money: `{"amount": amount, "currency": currency}`.
pub fn money(amount: i64, currency: &str) -> Value {
    json!({"amount": amount, "currency": currency})
}

impl TestApp {
    fn public(&self, op: &'static str, body: Value) -> Call<'_> {
        Call {
            app: self,
            op,
            token: None,
            key: None,
            headers: Vec::new(),
            encoding: Encoding::Json,
            body,
        }
    }

    fn bearer(&self, op: &'static str, token: &str, body: Value) -> Call<'_> {
        Call {
            token: Some(token.to_owned()),
            ..self.public(op, body)
        }
    }

    // auth

    /// auth.register
    pub fn register(&self, tenant: &str, email: &str, password: &str) -> Call<'_> {
        let body = json!({"tenant": tenant, "email": email, "password": password});
        self.public("auth.v1.register", body)
    }

    /// auth.login
    pub fn login(&self, tenant: &str, email: &str, password: &str) -> Call<'_> {
        let body = json!({"tenant": tenant, "email": email, "password": password});
        self.public("auth.v1.login", body)
    }

    /// auth.refresh
    pub fn refresh(&self, refresh_token: &str) -> Call<'_> {
        let body = json!({"refresh_token": refresh_token});
        self.public("auth.v1.refresh", body)
    }

    /// auth.logout
    pub fn logout(&self, refresh_token: &str) -> Call<'_> {
        let body = json!({"refresh_token": refresh_token});
        self.public("auth.v1.logout", body)
    }

    /// auth.logout_all
    pub fn logout_all(&self, token: &str) -> Call<'_> {
        self.bearer("auth.v1.logout_all", token, json!({}))
    }

    /// auth.me
    pub fn me(&self, token: &str) -> Call<'_> {
        self.bearer("auth.v1.me", token, json!({}))
    }

    /// auth.update_me, `changes` being the request (`display_name`, `phone`).
    pub fn update_me(&self, token: &str, changes: Value) -> Call<'_> {
        self.bearer("auth.v1.update_me", token, changes)
    }

    /// auth.verify_email, with the token of a `verify_email` mail.
    pub fn verify_email(&self, mailed_token: &str) -> Call<'_> {
        let body = json!({"token": mailed_token});
        self.public("auth.v1.verify_email", body)
    }

    /// auth.resend_verification
    pub fn resend_verification(&self, token: &str) -> Call<'_> {
        self.bearer("auth.v1.resend_verification", token, json!({}))
    }

    /// auth.request_password_reset
    pub fn request_password_reset(&self, tenant: &str, email: &str) -> Call<'_> {
        let body = json!({"tenant": tenant, "email": email});
        self.public("auth.v1.request_password_reset", body)
    }

    /// auth.reset_password, with the token of a `password_reset` mail.
    pub fn reset_password(&self, mailed_token: &str, new_password: &str) -> Call<'_> {
        let body = json!({"token": mailed_token, "new_password": new_password});
        self.public("auth.v1.reset_password", body)
    }

    /// auth.change_password
    pub fn change_password(&self, token: &str, current: &str, new: &str) -> Call<'_> {
        let body = json!({"current_password": current, "new_password": new});
        self.bearer("auth.v1.change_password", token, body)
    }

    /// auth.sessions.list
    pub fn list_sessions(&self, token: &str) -> Call<'_> {
        self.bearer("auth.v1.sessions.list", token, json!({}))
    }

    /// auth.sessions.revoke
    pub fn revoke_session(&self, token: &str, session_id: impl Serialize) -> Call<'_> {
        let body = json!({"session_id": session_id});
        self.bearer("auth.v1.sessions.revoke", token, body)
    }

    /// auth.introspect
    pub fn introspect(&self, access_token: &str) -> Call<'_> {
        let body = json!({"access_token": access_token});
        self.public("auth.v1.introspect", body)
    }

    /// auth.jwks: the published signing keys.
    pub fn jwks(&self) -> Call<'_> {
        self.public("auth.v1.jwks", json!({}))
    }

    /// auth.accept_invite, with the token of an `invite` mail.
    pub fn accept_invite(&self, mailed_token: &str, password: &str) -> Call<'_> {
        let body = json!({"token": mailed_token, "password": password});
        self.public("auth.v1.accept_invite", body)
    }

    /// auth.login_mfa, with the `mfa_token` of a login's challenge; the
    /// code goes in with `.with("code", ..)` or `.with("recovery_code", ..)`.
    pub fn login_mfa(&self, mfa_token: &str) -> Call<'_> {
        let body = json!({"mfa_token": mfa_token});
        self.public("auth.v1.login_mfa", body)
    }

    /// auth.mfa.status
    pub fn mfa_status(&self, token: &str) -> Call<'_> {
        self.bearer("auth.v1.mfa.status", token, json!({}))
    }

    /// auth.mfa.totp.enroll
    pub fn enroll_totp(&self, token: &str) -> Call<'_> {
        self.bearer("auth.v1.mfa.totp.enroll", token, json!({}))
    }

    /// auth.mfa.totp.confirm
    pub fn confirm_totp(&self, token: &str, enrollment_id: impl Serialize, code: &str) -> Call<'_> {
        let body = json!({"enrollment_id": enrollment_id, "code": code});
        self.bearer("auth.v1.mfa.totp.confirm", token, body)
    }

    /// auth.mfa.disable; the code goes in with `.with("code", ..)` or
    /// `.with("recovery_code", ..)`.
    pub fn disable_mfa(&self, token: &str, password: &str) -> Call<'_> {
        let body = json!({"password": password});
        self.bearer("auth.v1.mfa.disable", token, body)
    }

    /// auth.mfa.recovery_codes.regenerate
    pub fn regenerate_recovery_codes(&self, token: &str, code: &str) -> Call<'_> {
        let body = json!({"code": code});
        self.bearer("auth.v1.mfa.recovery_codes.regenerate", token, body)
    }

    /// auth.change_email
    pub fn change_email(&self, token: &str, new_email: &str, password: &str) -> Call<'_> {
        let body = json!({"new_email": new_email, "password": password});
        self.bearer("auth.v1.change_email", token, body)
    }

    /// auth.confirm_email_change, with the token of an `email_change` mail.
    pub fn confirm_email_change(&self, mailed_token: &str) -> Call<'_> {
        let body = json!({"token": mailed_token});
        self.public("auth.v1.confirm_email_change", body)
    }

    /// auth.export_me
    pub fn export_me(&self, token: &str) -> Call<'_> {
        self.bearer("auth.v1.export_me", token, json!({}))
    }

    /// auth.delete_me; a code goes in with `.with("code", ..)`.
    pub fn delete_me(&self, token: &str, password: &str) -> Call<'_> {
        self.bearer("auth.v1.delete_me", token, json!({"password": password}))
    }

    // tenant

    /// tenant.create
    pub fn create_tenant(&self, slug: &str, name: &str, email: &str, password: &str) -> Call<'_> {
        let owner = json!({"email": email, "password": password});
        let body = json!({"slug": slug, "name": name, "owner": owner});
        self.public("tenant.v1.create", body)
    }

    /// tenant.get: the caller's tenant, or `.with("id", ...)` another.
    pub fn get_tenant(&self, token: &str) -> Call<'_> {
        self.bearer("tenant.v1.get", token, json!({}))
    }

    /// tenant.update, `changes` being the request (`name`, `self_registration`).
    pub fn update_tenant(&self, token: &str, changes: Value) -> Call<'_> {
        self.bearer("tenant.v1.update", token, changes)
    }

    /// tenant.members.list
    pub fn list_members(&self, token: &str) -> Call<'_> {
        self.bearer("tenant.v1.members.list", token, json!({}))
    }

    /// tenant.members.set_role
    pub fn set_member_role(&self, token: &str, user_id: impl Serialize, role: &str) -> Call<'_> {
        let body = json!({"user_id": user_id, "role": role});
        self.bearer("tenant.v1.members.set_role", token, body)
    }

    /// tenant.members.remove
    pub fn remove_member(&self, token: &str, user_id: impl Serialize) -> Call<'_> {
        let body = json!({"user_id": user_id});
        self.bearer("tenant.v1.members.remove", token, body)
    }

    /// tenant.members.invite (I)
    pub fn invite_member(&self, token: &str, email: &str, role: &str) -> Call<'_> {
        let body = json!({"email": email, "role": role});
        self.bearer("tenant.v1.members.invite", token, body)
    }

    /// tenant.members.invitations.list
    pub fn list_invitations(&self, token: &str) -> Call<'_> {
        self.bearer("tenant.v1.members.invitations.list", token, json!({}))
    }

    /// tenant.members.invitations.revoke
    pub fn revoke_invitation(&self, token: &str, id: impl Serialize) -> Call<'_> {
        let body = json!({"id": id});
        self.bearer("tenant.v1.members.invitations.revoke", token, body)
    }

    /// tenant.list
    pub fn list_tenants(&self, token: &str) -> Call<'_> {
        self.bearer("tenant.v1.list", token, json!({}))
    }

    /// tenant.suspend
    pub fn suspend_tenant(&self, token: &str, id: impl Serialize) -> Call<'_> {
        let body = json!({"id": id});
        self.bearer("tenant.v1.suspend", token, body)
    }

    /// tenant.reactivate
    pub fn reactivate_tenant(&self, token: &str, id: impl Serialize) -> Call<'_> {
        let body = json!({"id": id});
        self.bearer("tenant.v1.reactivate", token, body)
    }

    /// tenant.audit.list; filters (`type`, `actor_id`, `since`, `until`)
    /// and paging go in with `.with`.
    pub fn list_audit(&self, token: &str) -> Call<'_> {
        self.bearer("tenant.v1.audit.list", token, json!({}))
    }

    // commerce

    /// commerce.products.create (I), `price` being [`money`].
    pub fn create_product(&self, token: &str, sku: &str, name: &str, price: Value) -> Call<'_> {
        let body = json!({"sku": sku, "name": name, "price": price});
        self.bearer("commerce.v1.products.create", token, body)
    }

    /// commerce.products.variants.create (I), `price` being [`money`].
    pub fn create_variant(
        &self,
        token: &str,
        product_id: impl Serialize,
        sku: &str,
        option_values: Value,
        price: Value,
    ) -> Call<'_> {
        let body = json!({"product_id": product_id, "sku": sku, "option_values": option_values,
                          "price": price});
        self.bearer("commerce.v1.products.variants.create", token, body)
    }

    /// commerce.products.variants.update; changes go in with `.with(..)`.
    pub fn update_variant(&self, token: &str, id: impl Serialize) -> Call<'_> {
        self.bearer(
            "commerce.v1.products.variants.update",
            token,
            json!({"id": id}),
        )
    }

    /// commerce.promotions.create (I): a percentage off; other fields go in
    /// with `.with(..)` (`kind: fixed_amount` with an `amount` instead).
    pub fn create_promotion(&self, token: &str, code: &str, percent: u32) -> Call<'_> {
        let body = json!({"code": code, "kind": "percentage", "percent": percent});
        self.bearer("commerce.v1.promotions.create", token, body)
    }

    /// commerce.promotions.get
    pub fn get_promotion(&self, token: &str, id: impl Serialize) -> Call<'_> {
        self.bearer("commerce.v1.promotions.get", token, json!({"id": id}))
    }

    /// commerce.promotions.list
    pub fn list_promotions(&self, token: &str) -> Call<'_> {
        self.bearer("commerce.v1.promotions.list", token, json!({}))
    }

    /// commerce.promotions.update; changes go in with `.with(..)`.
    pub fn update_promotion(&self, token: &str, id: impl Serialize) -> Call<'_> {
        self.bearer("commerce.v1.promotions.update", token, json!({"id": id}))
    }

    /// commerce.carts.create
    pub fn create_cart(&self, token: &str) -> Call<'_> {
        self.bearer("commerce.v1.carts.create", token, json!({}))
    }

    /// commerce.carts.get
    pub fn get_cart(&self, token: &str, id: impl Serialize) -> Call<'_> {
        self.bearer("commerce.v1.carts.get", token, json!({"id": id}))
    }

    /// commerce.carts.items.set: `quantity` of the variant (0 removes it).
    pub fn set_cart_item(
        &self,
        token: &str,
        cart_id: impl Serialize,
        variant_id: impl Serialize,
        quantity: i64,
    ) -> Call<'_> {
        let body = json!({"cart_id": cart_id, "variant_id": variant_id, "quantity": quantity});
        self.bearer("commerce.v1.carts.items.set", token, body)
    }

    /// commerce.carts.update; changes go in with `.with(..)`.
    pub fn update_cart(&self, token: &str, cart_id: impl Serialize) -> Call<'_> {
        let body = json!({"cart_id": cart_id});
        self.bearer("commerce.v1.carts.update", token, body)
    }

    /// commerce.carts.checkout (I); a payment method goes in with
    /// `.with("payment_method", ..)`.
    pub fn checkout(&self, token: &str, cart_id: impl Serialize) -> Call<'_> {
        let body = json!({"cart_id": cart_id});
        self.bearer("commerce.v1.carts.checkout", token, body)
    }

    /// commerce.products.get
    pub fn get_product(&self, token: &str, id: impl Serialize) -> Call<'_> {
        let body = json!({"id": id});
        self.bearer("commerce.v1.products.get", token, body)
    }

    /// commerce.products.list
    pub fn list_products(&self, token: &str) -> Call<'_> {
        self.bearer("commerce.v1.products.list", token, json!({}))
    }

    /// commerce.products.update, the changes added with `.with(...)`.
    pub fn update_product(&self, token: &str, id: impl Serialize) -> Call<'_> {
        let body = json!({"id": id});
        self.bearer("commerce.v1.products.update", token, body)
    }

    /// commerce.inventory.adjust (I)
    pub fn adjust_inventory(
        &self,
        token: &str,
        product_id: impl Serialize,
        delta: i64,
    ) -> Call<'_> {
        let body = json!({"product_id": product_id, "delta": delta});
        self.bearer("commerce.v1.inventory.adjust", token, body)
    }

    /// commerce.orders.create (I), a line per `(product_id, quantity)`.
    pub fn create_order(&self, token: &str, lines: &[(&Value, i64)]) -> Call<'_> {
        let items: Vec<Value> = lines
            .iter()
            .map(|(id, quantity)| json!({"product_id": id, "quantity": quantity}))
            .collect();
        self.bearer("commerce.v1.orders.create", token, json!({"items": items}))
    }

    /// commerce.orders.get
    pub fn get_order(&self, token: &str, id: impl Serialize) -> Call<'_> {
        let body = json!({"id": id});
        self.bearer("commerce.v1.orders.get", token, body)
    }

    /// commerce.orders.list
    pub fn list_orders(&self, token: &str) -> Call<'_> {
        self.bearer("commerce.v1.orders.list", token, json!({}))
    }

    /// commerce.orders.cancel (I)
    pub fn cancel_order(&self, token: &str, id: impl Serialize) -> Call<'_> {
        let body = json!({"id": id});
        self.bearer("commerce.v1.orders.cancel", token, body)
    }

    /// commerce.orders.fulfill (I)
    pub fn fulfill_order(&self, token: &str, id: impl Serialize) -> Call<'_> {
        let body = json!({"id": id});
        self.bearer("commerce.v1.orders.fulfill", token, body)
    }

    /// commerce.payments.authorize (I), with the method `{type, token}`.
    pub fn authorize_payment(
        &self,
        token: &str,
        order_id: impl Serialize,
        method: &str,
        method_token: &str,
    ) -> Call<'_> {
        let method = json!({"type": method, "token": method_token});
        let body = json!({"order_id": order_id, "method": method});
        self.bearer("commerce.v1.payments.authorize", token, body)
    }

    /// commerce.payments.capture (I)
    pub fn capture_payment(&self, token: &str, payment_id: impl Serialize) -> Call<'_> {
        let body = json!({"payment_id": payment_id});
        self.bearer("commerce.v1.payments.capture", token, body)
    }

    /// commerce.payments.void (I)
    pub fn void_payment(&self, token: &str, payment_id: impl Serialize) -> Call<'_> {
        let body = json!({"payment_id": payment_id});
        self.bearer("commerce.v1.payments.void", token, body)
    }

    /// commerce.payments.refund (I): all that is left, or `.with("amount", ...)`.
    pub fn refund_payment(&self, token: &str, payment_id: impl Serialize) -> Call<'_> {
        let body = json!({"payment_id": payment_id});
        self.bearer("commerce.v1.payments.refund", token, body)
    }

    // shorthands

    /// A product `sku` named `Product {sku}`, at `price` euro cents with
    /// `stock` units, created by `owner`: the reply's `product`.
    pub async fn new_product(&self, owner: &Signup, sku: &str, price: i64, stock: i64) -> Value {
        let name = format!("Product {sku}");
        let reply = self
            .create_product(&owner.access_token, sku, &name, money(price, "EUR"))
            .with("stock", stock)
            .await;
        reply.ok()["product"].clone()
    }
}
