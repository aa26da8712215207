"""Every operation of the contract through the typed package, against a live
`olympus serve` (NATS_URL, OLYMPUS_SUBJECT_PREFIX): most succeed, so their
replies are parsed by the generated models (a field missing from a model,
or of another type, fails here); the rest answer a coded error, which must
be its class. At the end, every method of every service must have been
called. Prints one JSON line per operation and `done`; exits 1 at the first
surprise. tests/e2e/python_client.rs runs it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import tempfile
import uuid

import nats
import pyotp
import time
from collections.abc import Awaitable
from typing import TypeVar

from olympus_client import FileStore, Olympus, Reply
from olympus_client.errors import Forbidden, InvalidToken, NoResponders, OlympusError, Timeout
from olympus_client.models import (
    Address,
    CartStatus,
    EventType,
    MailTemplate,
    MfaChallenge,
    Money,
    NewOwner,
    OrderItemRequest,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PaymentMethod,
    PaymentStatus,
    ProductStatus,
    PromotionKind,
    PromotionStatus,
    Role,
    SessionReply,
)
from olympus_client.services import AuthService, CommerceService, TenantService

PASSWORD = "velvet-orbit-cactus-harmonica"
R = TypeVar("R", bound=Reply)
called: set[str] = set()


async def ok(name: str, call: Awaitable[R]) -> R:
    """The reply of `call` (the operation `name`), which must succeed."""
    try:
        reply = await call
    except OlympusError as err:
        print(json.dumps({"failed": name, "error": str(err)}))
        sys.exit(1)
    called.add(name)
    print(json.dumps({"operation": name, "reply": type(reply).__name__, "correlation_id": reply.correlation_id}))
    return reply


async def refused(name: str, call: Awaitable[Reply], error: type[OlympusError]) -> None:
    """`call` must answer the coded error `error`."""
    try:
        reply = await call
    except error as err:
        called.add(name)
        print(json.dumps({"operation": name, "error": err.code, "status": err.status}))
        return
    print(json.dumps({"failed": name, "expected": error.__name__, "got": repr(reply)}))
    sys.exit(1)


def eur(amount: int) -> Money:
    return Money(amount=amount, currency="EUR")


async def mail_token(client: Olympus, tenant_id: uuid.UUID, template: MailTemplate, to: str) -> str:
    async for mail in client.mail(durable=None, tenant_id=tenant_id, template=template.value, stop_when_idle=10):
        if mail.to == to and mail.token:
            return mail.token
    print(json.dumps({"failed": f"a {template.value} mail to {to}"}))
    sys.exit(1)


async def main() -> None:
    client = await Olympus.connect(
        os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        prefix=os.environ.get("OLYMPUS_SUBJECT_PREFIX", "olympus"),
    )
    async with client:
        auth, tenant, commerce = client.auth, client.tenant, client.commerce
        slug = f"every-{uuid.uuid4().hex[:8]}"
        owner_email = f"owner@{slug}.example.com"
        created = await ok(
            "tenant.create",
            tenant.create(slug=slug, name="Every Operation", owner=NewOwner(email=owner_email, password=PASSWORD)),
        )
        tenant_id, owner = created.tenant.id, created.tokens.access_token
        await ok("auth.jwks", auth.jwks())

        # auth
        member_email = f"member@{slug}.example.com"
        registered = await ok("auth.register", auth.register(tenant=slug, email=member_email, password=PASSWORD))
        member = registered.tokens.access_token
        token = await mail_token(client, tenant_id, MailTemplate.VERIFY_EMAIL, member_email)
        await ok("auth.verify_email", auth.verify_email(token=token))
        session = await ok("auth.login", auth.login(tenant=slug, email=member_email, password=PASSWORD))
        assert isinstance(session, SessionReply)
        refreshed = await ok("auth.refresh", auth.refresh(refresh_token=session.tokens.refresh_token))
        await ok("auth.me", auth.me(token=member))
        await ok("auth.update_me", auth.update_me(token=member, display_name="Every", phone="+4930123456"))
        await ok("auth.update_me", auth.update_me(token=member, phone=None))
        await ok("auth.resend_verification", auth.resend_verification(token=owner))
        await ok("auth.introspect", auth.introspect(access_token=member))
        await ok("auth.logout", auth.logout(refresh_token=refreshed.tokens.refresh_token))
        await ok("auth.login", auth.login(tenant=slug, email=member_email, password=PASSWORD))
        sessions = await ok("auth.sessions.list", auth.sessions_list(token=member))
        other = next(s.id for s in sessions.items if not s.current)
        await ok("auth.sessions.revoke", auth.sessions_revoke(token=member, session_id=other))
        await ok("auth.request_password_reset", auth.request_password_reset(tenant=slug, email=member_email))
        await refused("auth.reset_password", auth.reset_password(token="not-a-token", new_password=PASSWORD), InvalidToken)
        changed = await ok(
            "auth.change_password",
            auth.change_password(token=member, current_password=PASSWORD, new_password="harbor-violet-tundra-echo"),
        )
        member = changed.tokens.access_token

        # tenant
        await ok("tenant.get", tenant.get(token=owner))
        await ok("tenant.update", tenant.update(token=owner, name="Every Operation Ltd"))
        invite_email = f"invited@{slug}.example.com"
        await ok("tenant.members.invite", tenant.members_invite(token=owner, email=invite_email, role=Role.MEMBER))
        token = await mail_token(client, tenant_id, MailTemplate.INVITE, invite_email)
        joined = await ok("auth.accept_invite", auth.accept_invite(token=token, password=PASSWORD))
        second = await ok(
            "tenant.members.invite", tenant.members_invite(token=owner, email=f"later@{slug}.example.com", role=Role.ADMIN)
        )
        await ok("tenant.members.invitations.list", tenant.members_invitations_list(token=owner, limit=10))
        await ok("tenant.members.invitations.revoke", tenant.members_invitations_revoke(token=owner, id=second.invitation.id))
        audit = await ok("tenant.audit.list", tenant.audit_list(token=owner, type=EventType.MEMBER_INVITED, limit=5))
        assert [e.type for e in audit.items] == [EventType.MEMBER_INVITED] * 2, audit
        assert audit.items[0].id > audit.items[1].id, "newest first"
        await ok("tenant.members.list", tenant.members_list(token=owner, limit=2))
        await ok("tenant.members.set_role", tenant.members_set_role(token=owner, user_id=joined.user.id, role=Role.ADMIN))
        await ok("tenant.members.remove", tenant.members_remove(token=owner, user_id=joined.user.id))
        # Platform administration: an ordinary owner is refused.
        await refused("tenant.list", tenant.list(token=owner), Forbidden)
        await refused("tenant.suspend", tenant.suspend(token=owner, id=tenant_id), Forbidden)
        await refused("tenant.reactivate", tenant.reactivate(token=owner, id=tenant_id), Forbidden)

        # commerce
        made = await ok(
            "commerce.products.create",
            commerce.products_create(token=owner, sku="EVERY-1", name="Every Mug", price=eur(900), stock=5),
        )
        product_id = made.product.id
        await ok("commerce.products.get", commerce.products_get(token=member, id=product_id))
        await ok("commerce.products.list", commerce.products_list(token=member, q="every", status=ProductStatus.ACTIVE))
        await ok("commerce.products.update", commerce.products_update(token=owner, id=product_id, description="Blue"))
        await ok(
            "commerce.inventory.adjust",
            commerce.inventory_adjust(token=owner, product_id=product_id, delta=5, reason="delivery", idempotency_key=str(uuid.uuid4())),
        )
        # Variants, on a product of their own (orders below name EVERY-1 by product_id).
        plate = await ok(
            "commerce.products.create",
            commerce.products_create(token=owner, sku="EVERY-2", name="Every Plate", price=eur(500)),
        )
        sized = await ok(
            "commerce.products.variants.create",
            commerce.products_variants_create(
                token=owner,
                product_id=plate.product.id,
                sku="EVERY-2-L",
                option_values={"size": "L"},
                price=eur(600),
                stock=2,
                idempotency_key=str(uuid.uuid4()),
            ),
        )
        large = next(v for v in sized.product.variants or [] if v.sku == "EVERY-2-L")
        assert large.option_values == {"size": "L"} and (sized.product.options or [])[0].values == ["L"], sized
        await ok("commerce.products.variants.update", commerce.products_variants_update(token=owner, id=large.id, price=eur(650)))
        promotion = await ok(
            "commerce.promotions.create",
            commerce.promotions_create(
                token=owner, code="every-10", kind=PromotionKind.PERCENTAGE, percent=10, idempotency_key=str(uuid.uuid4())
            ),
        )
        assert promotion.promotion.code == "EVERY-10", promotion
        await ok("commerce.promotions.get", commerce.promotions_get(token=owner, id=promotion.promotion.id))
        await ok("commerce.promotions.list", commerce.promotions_list(token=owner, status=PromotionStatus.ACTIVE))
        await ok(
            "commerce.promotions.update",
            commerce.promotions_update(token=owner, id=promotion.promotion.id, status=PromotionStatus.DISABLED),
        )
        address = Address(name="Ada", line1="1 Main St", city="Berlin", postal_code="10115", country="DE")
        items = [OrderItemRequest(product_id=product_id, quantity=1)]
        placed = await ok(
            "commerce.orders.create",
            commerce.orders_create(token=member, items=items, shipping_address=address, contact_phone="+4930123456"),
        )
        order_id = placed.order.id
        await ok("commerce.orders.get", commerce.orders_get(token=member, id=order_id))
        await ok("commerce.orders.list", commerce.orders_list(token=owner, status=OrderStatus.PENDING_PAYMENT))
        card = PaymentMethod(type="card", token="tok_visa")
        paid = await ok("commerce.payments.authorize", commerce.payments_authorize(token=member, order_id=order_id, method=card))
        captured = await ok("commerce.payments.capture", commerce.payments_capture(token=owner, payment_id=paid.payment.id))
        assert captured.payment.status == PaymentStatus.CAPTURED
        await ok("commerce.orders.fulfill", commerce.orders_fulfill(token=owner, id=order_id))
        await ok("commerce.payments.refund", commerce.payments_refund(token=owner, payment_id=paid.payment.id, amount=eur(100)))
        another = await ok("commerce.orders.create", commerce.orders_create(token=member, items=items))
        held = await ok(
            "commerce.payments.authorize", commerce.payments_authorize(token=member, order_id=another.order.id, method=card)
        )
        await ok("commerce.payments.void", commerce.payments_void(token=owner, payment_id=held.payment.id))
        third = await ok("commerce.orders.create", commerce.orders_create(token=member, items=items))
        await ok("commerce.orders.cancel", commerce.orders_cancel(token=member, id=third.order.id))

        cart = await ok("commerce.carts.create", commerce.carts_create(token=member))
        cart_id = cart.cart.id
        await ok("commerce.carts.items.set", commerce.carts_items_set(token=member, cart_id=cart_id, variant_id=product_id, quantity=2))
        await ok(
            "commerce.carts.update",
            commerce.carts_update(token=member, cart_id=cart_id, shipping_address=address, contact_phone=None),
        )
        got = await ok("commerce.carts.get", commerce.carts_get(token=member, id=cart_id))
        assert got.cart.status == CartStatus.OPEN and got.cart.items[0].quantity == 2, got
        checked = await ok(
            "commerce.carts.checkout",
            commerce.carts_checkout(token=member, cart_id=cart_id, payment_method=card, idempotency_key=str(uuid.uuid4())),
        )
        assert checked.order.cart_id == cart_id and checked.payment is not None, checked
        assert checked.payment.status == PaymentStatus.AUTHORIZED, checked

        exported = await ok("auth.export_me", auth.export_me(token=member))
        orders = [placed.order.id, another.order.id, third.order.id, checked.order.id]
        assert [o.id for o in exported.orders] == orders, exported
        assert [(c.id, c.status) for c in exported.carts] == [(cart_id, CartStatus.CHECKED_OUT)], exported
        assert exported.orders[0].payments[0].id == paid.payment.id, exported
        await ok("auth.logout_all", auth.logout_all(token=member))

        # MFA: a TOTP authenticator (codes from pyotp), recovery codes, the
        # login's challenge. Two codes now: this step's and the next (one
        # step of drift is accepted, and a code works once).
        mfa_email = f"mfa@{slug}.example.com"
        mfa = (await ok("auth.register", auth.register(tenant=slug, email=mfa_email, password=PASSWORD))).tokens
        enrolled = await ok("auth.mfa.totp.enroll", auth.mfa_totp_enroll(token=mfa.access_token))
        authenticator = pyotp.TOTP(enrolled.secret)
        assert pyotp.parse_uri(enrolled.otpauth_uri).secret == enrolled.secret, enrolled.otpauth_uri
        now = int(time.time())
        await ok(
            "auth.mfa.totp.confirm",
            auth.mfa_totp_confirm(token=mfa.access_token, enrollment_id=enrolled.enrollment_id, code=authenticator.at(now)),
        )
        status = await ok("auth.mfa.status", auth.mfa_status(token=mfa.access_token))
        assert status.totp and status.recovery_codes_left == 10, status
        codes = await ok(
            "auth.mfa.recovery_codes.regenerate",
            auth.mfa_recovery_codes_regenerate(token=mfa.access_token, code=authenticator.at(now + 30)),
        )
        challenge = await ok("auth.login", auth.login(tenant=slug, email=mfa_email, password=PASSWORD))
        assert isinstance(challenge, MfaChallenge) and challenge.mfa_required, challenge
        mfa_session = await ok(
            "auth.login_mfa", auth.login_mfa(mfa_token=challenge.mfa_token, recovery_code=codes.recovery_codes[0])
        )
        await ok(
            "auth.mfa.disable",
            auth.mfa_disable(token=mfa_session.tokens.access_token, password=PASSWORD, recovery_code=codes.recovery_codes[1]),
        )

        # Email change: the token mailed to the new address confirms it.
        moved_email = f"moved@{slug}.example.com"
        await ok(
            "auth.change_email",
            auth.change_email(token=mfa_session.tokens.access_token, new_email=moved_email, password=PASSWORD),
        )
        token = await mail_token(client, tenant_id, MailTemplate.EMAIL_CHANGE, moved_email)
        moved = await ok("auth.confirm_email_change", auth.confirm_email_change(token=token))
        assert moved.user.email == moved_email, moved
        # Deletion: the moved account erases itself; the address is free.
        await ok("auth.delete_me", auth.delete_me(token=mfa_session.tokens.access_token, password=PASSWORD))
        await ok("auth.register", auth.register(tenant=slug, email=moved_email, password=PASSWORD))

        # The tenant's events, typed: two types filtered here, deduplicated
        # by a file of processed ids across consumers.
        ids = os.path.join(tempfile.mkdtemp(), "processed")
        wanted = ["order.placed", "payment.captured"]
        seen = []
        async for event in client.events(
            durable=f"every-{slug}", tenant_id=tenant_id, types=wanted, processed=FileStore(ids), stop_when_idle=2
        ):
            if not isinstance(event.data, (OrderPlaced, PaymentCaptured)) or event.msg_id != str(event.id):
                print(json.dumps({"failed": "a typed event", "got": repr(event)}))
                sys.exit(1)
            seen.append(event.type.value)
        if sorted(seen) != ["order.placed"] * 4 + ["payment.captured"]:
            print(json.dumps({"failed": "the events of two types", "got": seen}))
            sys.exit(1)
        again = [e async for e in client.events(
            durable=f"again-{slug}", tenant_id=tenant_id, types=wanted, processed=FileStore(ids), stop_when_idle=2
        )]
        if again:
            print(json.dumps({"failed": "processed events come again", "got": len(again)}))
            sys.exit(1)
        # A durable keeps its filter: asking it for other types is refused.
        try:
            async for _ in client.events(durable=f"every-{slug}", tenant_id=tenant_id, types=["order.paid"]):
                break
            print(json.dumps({"failed": "a durable asked for another filter"}))
            sys.exit(1)
        except ValueError:
            pass
        # An event of a type a later revision adds is skipped, not fatal.
        prefix = os.environ.get("OLYMPUS_SUBJECT_PREFIX", "olympus")
        future = {
            "id": str(uuid.uuid4()), "type": "user.future_thing", "tenant_id": str(tenant_id),
            "occurred_at": "2026-12-05T00:00:00Z", "correlation_id": "future", "schema_version": 1, "data": {},
        }
        await client.nc.jetstream().publish(
            f"{prefix}.events.{tenant_id}.user.future_thing", json.dumps(future).encode()
        )
        everything = [e.type.value async for e in client.events(durable=f"all-{slug}", tenant_id=tenant_id, stop_when_idle=2)]
        if "user.future_thing" in everything or "order.placed" not in everything:
            print(json.dumps({"failed": "an unknown type among all events", "got": everything}))
            sys.exit(1)
        print(json.dumps({"events": len(seen), "deduplicated": True, "all": len(everything)}))

    # No worker on a subject: NoResponders; a responder that never answers:
    # Timeout.
    nobody = await Olympus.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"), prefix=f"nobody-{slug}")
    async with nobody:
        try:
            await nobody.auth.jwks()
            print(json.dumps({"failed": "no responders"}))
            sys.exit(1)
        except NoResponders:
            pass
        silent = await nats.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
        await silent.subscribe(f"nobody-{slug}.auth.v1.me")
        await silent.flush()
        try:
            await nobody.auth.me(token="t", timeout=0.3)
            print(json.dumps({"failed": "a time-out"}))
            sys.exit(1)
        except Timeout as late:
            if late.operation != "auth.v1.me":
                sys.exit(1)
        finally:
            await silent.close()
    print(json.dumps({"transport_errors": True}))

    every: set[str] = set()
    for service in (AuthService, TenantService, CommerceService):
        methods = {name for name, _ in inspect.getmembers(service, inspect.iscoroutinefunction) if not name.startswith("_")}
        if methods != set(service.OPERATIONS):
            print(json.dumps({"failed": f"{service.__name__}: methods and OPERATIONS differ"}))
            sys.exit(1)
        every |= set(service.OPERATIONS.values())
    missing = sorted(every - called)
    if missing:
        print(json.dumps({"failed": "operations never called", "missing": missing}))
        sys.exit(1)
    print(json.dumps({"done": len(called)}))


if __name__ == "__main__":
    asyncio.run(main())
