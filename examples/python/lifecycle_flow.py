"""Olympus from Python: an account's lifecycle and the tenant's audit log, on
the typed client.

change the email (its token read from the mail stream, sent to the new
address only) -> confirm it (the old address gets a notice without a token)
-> export everything the tenant stores about oneself, an order with its
payment included -> the owner reads the audit log, filtered and paged ->
the member deletes their account (the last owner may not): their tokens stop
working, the log keeps the events without the person, and the address may
register again:

    pip install -r examples/python/requirements.txt ./clients/python
    NATS_URL=nats://127.0.0.1:4222 OLYMPUS_SUBJECT_PREFIX=olympus \\
        python3 examples/python/lifecycle_flow.py

Prints one JSON line per step; exits non-zero at the first reply that breaks
the contract. The end-to-end tests run it against `olympus serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from flows import PASSWORD, check, read_mail, run, slug, step
from olympus_client import Olympus
from olympus_client.errors import Conflict, InvalidCredentials, InvalidState, InvalidToken, Unauthenticated
from olympus_client.models import EventType, MailTemplate, Money, NewOwner, OrderItemRequest, PaymentMethod


async def flow(client: Olympus) -> None:
    name = slug("life")
    owner_email = f"owner@{name}.example.com"
    created = await client.tenant.create(
        slug=name, name="Python Lifecycle", owner=NewOwner(email=owner_email, password=PASSWORD)
    )
    tenant_id, owner = created.tenant.id, created.tokens.access_token
    email = f"member@{name}.example.com"
    member = (await client.auth.register(tenant=name, email=email, password=PASSWORD)).tokens.access_token

    # Email change: the token goes to the new address only.
    new_email = f"renamed@{name}.example.com"
    await client.auth.change_email(token=member, new_email=new_email, password=PASSWORD)
    token = await read_mail(client, tenant_id, MailTemplate.EMAIL_CHANGE, new_email)
    moved = await client.auth.confirm_email_change(token=token)
    check(moved.user.email == new_email and moved.user.email_verified, "auth.confirm_email_change", moved)
    try:
        await client.auth.confirm_email_change(token=token)
        check(False, "an email change token works once")
    except InvalidToken:
        pass
    # The old address is told, without a token.
    notice = None
    notices = client.mail(durable=None, tenant_id=tenant_id, template="email_changed", stop_when_idle=10)
    async with contextlib.aclosing(notices):
        async for mail in notices:
            if mail.to == email:
                notice = mail
                break
    check(notice is not None and notice.token is None and notice.expires_at is None, "the email_changed notice", notice)
    step("auth.change_email", new_email=new_email)

    # An address someone else has is a conflict, at confirmation.
    await client.auth.change_email(token=member, new_email=owner_email, password=PASSWORD)
    token = await read_mail(client, tenant_id, MailTemplate.EMAIL_CHANGE, owner_email)
    try:
        await client.auth.confirm_email_change(token=token)
        check(False, "a taken address")
    except Conflict as taken:
        check(taken.details.get("field") == "email", "the field named", taken.details)
    step("auth.confirm_email_change (taken)")

    # Export: an order and its payment are in it, and no secret.
    product = await client.commerce.products_create(
        token=owner, sku="LIFE-1", name="Lifecycle Mug", price=Money(amount=900, currency="EUR"), stock=5
    )
    order = await client.commerce.orders_create(
        token=member, items=[OrderItemRequest(product_id=product.product.id, quantity=1)]
    )
    payment = await client.commerce.payments_authorize(
        token=member, order_id=order.order.id, method=PaymentMethod(type="card", token="tok_visa")
    )
    exported = await client.auth.export_me(token=member)
    check(exported.user.email == new_email, "the export's user", exported.user)
    check([o.id for o in exported.orders] == [order.order.id], "the export's orders", exported.orders)
    check([p.id for p in exported.orders[0].payments] == [payment.payment.id], "the order's payments", exported.orders)
    check(not exported.mfa.totp and exported.carts == [], "the export's MFA state and carts", exported)
    check("argon2" not in exported.model_dump_json(), "no password hash in the export")
    step("auth.export_me", orders=len(exported.orders), sessions=len(exported.sessions))

    # The audit log: newest first, filtered, paged; members may not read it.
    changed = await client.tenant.audit_list(token=owner, type=EventType.USER_EMAIL_CHANGED)
    check([e.type for e in changed.items] == [EventType.USER_EMAIL_CHANGED], "audit.list by type", changed)
    check(changed.items[0].data["previous_email"] == email, "the event's data", changed.items[0])
    seen = []
    cursor = None
    while True:
        page = await client.tenant.audit_list(token=owner, limit=3, cursor=cursor)
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    check([e.id for e in seen] == sorted((e.id for e in seen), reverse=True), "newest first", seen)
    check(any(e.type == EventType.ORDER_PLACED for e in seen), "every event in the pages", [e.type for e in seen])
    step("tenant.audit.list", events=len(seen))

    # Deletion: the password again; the last owner may not leave.
    with contextlib.suppress(InvalidCredentials):
        await client.auth.delete_me(token=member, password="not-the-password")
        check(False, "a wrong password deletes nothing")
    try:
        await client.auth.delete_me(token=owner, password=PASSWORD)
        check(False, "the last owner cannot delete their account")
    except InvalidState as refused:
        check(refused.details.get("state") == "last_owner", "the state named", refused.details)
    await client.auth.delete_me(token=member, password=PASSWORD)
    deadline = time.monotonic() + 1.0
    while True:
        try:
            await client.auth.me(token=member)
        except Unauthenticated:
            break
        check(time.monotonic() < deadline, "the deleted account's token is refused within a second")
        await asyncio.sleep(0.05)
    deleted = await client.tenant.audit_list(token=owner, type=EventType.USER_DELETED)
    check(deleted.items[0].data["user_id"] == str(exported.user.id), "user.deleted", deleted.items[0])
    changed = await client.tenant.audit_list(token=owner, type=EventType.USER_EMAIL_CHANGED)
    check(
        "previous_email" not in changed.items[0].data and "email" not in changed.items[0].data,
        "the log keeps the event without the person",
        changed.items[0].data,
    )
    again = await client.auth.register(tenant=name, email=new_email, password=PASSWORD)
    check(again.user.id != exported.user.id, "the address registers again as a new account", again.user)
    step("auth.delete_me", orders_kept=deleted.items[0].data["orders_kept"])


if __name__ == "__main__":
    asyncio.run(run(flow))
