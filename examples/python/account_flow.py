"""Olympus from Python: an account's life, mail included.

register -> verify the email (its token read from the mail stream) ->
login -> sessions.list -> logout_all -> request a password reset (token read
from the mail stream) -> reset -> login with the new password; in
MessagePack and in JSON, written only against the contract's field names:

    pip install -r examples/python/requirements.txt
    NATS_URL=nats://127.0.0.1:4222 OLYMPUS_SUBJECT_PREFIX=olympus \\
        python3 examples/python/account_flow.py

Prints one JSON line per step; exits non-zero at the first reply that breaks
the contract. The end-to-end tests run it against `olympus serve`. (A real
mailer reads the mail stream the same way, as the only reader.)
"""

import asyncio
import json
import uuid

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from identity_flow import PASSWORD, PREFIX, call, check, run_flows, step

NEW_PASSWORD = "harbor-violet-tundra-echo"


def mail_stream():
    return PREFIX.upper().replace("-", "_") + "_MAIL"


async def read_mail(js, tenant_id, template, to, timeout=10):
    """The token of the newest `template` mail to `to` (acknowledging every
    mail read: the mail stream is a work queue)."""
    sub = await js.pull_subscribe(
        f"{PREFIX}.mail.{tenant_id}.{template}",
        stream=mail_stream(),
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
    )
    token = None
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while token is None and asyncio.get_running_loop().time() < deadline:
            try:
                messages = await sub.fetch(batch=10, timeout=1)
            except nats.errors.TimeoutError:
                continue
            for msg in messages:
                mail = json.loads(msg.data)
                await msg.ack()
                check(mail["template"] == template, "mail template", mail)
                if mail["to"] == to:
                    token = mail["token"]
    finally:
        await sub.unsubscribe()
    check(token is not None, f"a {template} mail to {to}", None)
    return token


async def flow(nc, js, codec):
    slug = f"pyacct-{codec.name}-{uuid.uuid4().hex[:8]}"
    status, body, _ = await call(
        nc, codec, "tenant.v1.create",
        {"slug": slug, "name": "Python Accounts", "owner": {"email": f"owner@{slug}.example.com", "password": PASSWORD}},
    )
    check(status == 200, "tenant.create", body)
    tenant_id = body["tenant"]["id"]
    check(body["tenant"]["self_registration"] is True, "tenants take registrations by default", body)

    email = f"member@{slug}.example.com"
    status, body, _ = await call(nc, codec, "auth.v1.register", {"tenant": slug, "email": email, "password": PASSWORD})
    check(status == 200 and body["user"]["role"] == "member" and not body["user"]["email_verified"], "auth.register", body)
    step("auth.register", codec, user_id=body["user"]["id"])

    token = await read_mail(js, tenant_id, "verify_email", email)
    status, body, _ = await call(nc, codec, "auth.v1.verify_email", {"token": token})
    check(status == 200 and body["user"]["email_verified"] is True, "auth.verify_email", body)
    step("auth.verify_email", codec)

    status, body, _ = await call(nc, codec, "auth.v1.login", {"tenant": slug, "email": email, "password": PASSWORD})
    check(status == 200, "auth.login", body)
    access = body["tokens"]["access_token"]
    step("auth.login", codec)

    status, body, _ = await call(nc, codec, "auth.v1.sessions.list", {}, token=access)
    items = body.get("items", []) if status == 200 else []
    check(len(items) == 2 and sum(1 for s in items if s["current"]) == 1, "auth.sessions.list", body)
    check(set(items[0]) == {"id", "created_at", "last_used_at", "ip", "user_agent", "current"}, "session fields", items[0])
    step("auth.sessions.list", codec, sessions=len(items))

    status, body, _ = await call(nc, codec, "auth.v1.logout_all", {}, token=access)
    check(status == 200 and body == {"revoked": 2}, "auth.logout_all", body)
    status, body, _ = await call(nc, codec, "auth.v1.me", {}, token=access)
    check(status == 401 and body["code"] == "unauthenticated", "logout_all ends this session too", body)
    step("auth.logout_all", codec)

    status, body, _ = await call(nc, codec, "auth.v1.request_password_reset", {"tenant": slug, "email": email})
    check(status == 200 and body == {}, "auth.request_password_reset", body)
    status, unknown, _ = await call(nc, codec, "auth.v1.request_password_reset", {"tenant": slug, "email": "nobody@example.com"})
    check(status == 200 and unknown == {}, "the same reply for an unknown address", unknown)
    token = await read_mail(js, tenant_id, "password_reset", email)
    step("auth.request_password_reset", codec)

    status, body, _ = await call(nc, codec, "auth.v1.reset_password", {"token": token, "new_password": "password"})
    check(status == 422 and "new_password" in body["details"]["fields"], "a weak new password", body)
    status, body, _ = await call(nc, codec, "auth.v1.reset_password", {"token": token, "new_password": NEW_PASSWORD})
    check(status == 200 and body == {}, "auth.reset_password", body)
    status, body, _ = await call(nc, codec, "auth.v1.reset_password", {"token": token, "new_password": NEW_PASSWORD})
    check(status == 401 and body["code"] == "invalid_token", "a reset token works once", body)
    step("auth.reset_password", codec)

    status, body, _ = await call(nc, codec, "auth.v1.login", {"tenant": slug, "email": email, "password": PASSWORD})
    check(status == 401 and body["code"] == "invalid_credentials", "the old password is gone", body)
    status, body, _ = await call(nc, codec, "auth.v1.login", {"tenant": slug, "email": email, "password": NEW_PASSWORD})
    check(status == 200 and body["user"]["email"] == email, "login with the new password", body)
    step("auth.login (new password)", codec)


async def main():
    await run_flows(flow, jetstream=True)


if __name__ == "__main__":
    asyncio.run(main())
