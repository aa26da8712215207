"""Olympus from Python: an account's life, mail included, on the typed client.

register -> verify the email (its token read from the mail stream) ->
login -> sessions.list -> logout_all -> request a password reset (token read
from the mail stream) -> reset -> login with the new password:

    pip install -r examples/python/requirements.txt ./clients/python
    NATS_URL=nats://127.0.0.1:4222 OLYMPUS_SUBJECT_PREFIX=olympus \\
        python3 examples/python/account_flow.py

Prints one JSON line per step; exits non-zero at the first reply that breaks
the contract. The end-to-end tests run it against `olympus serve`. (A real
mailer reads the mail stream the same way, as the only reader.)
"""

from __future__ import annotations

import asyncio

from flows import PASSWORD, check, read_mail, run, slug, step
from olympus_client import Olympus
from olympus_client.errors import InvalidCredentials, InvalidToken, Unauthenticated, ValidationFailed
from olympus_client.models import MailTemplate, NewOwner, Role

NEW_PASSWORD = "harbor-violet-tundra-echo"


async def flow(client: Olympus) -> None:
    name = slug("acct")
    created = await client.tenant.create(
        slug=name, name="Python Accounts", owner=NewOwner(email=f"owner@{name}.example.com", password=PASSWORD)
    )
    tenant_id = created.tenant.id
    check(created.tenant.self_registration, "tenants take registrations by default", created)

    email = f"member@{name}.example.com"
    registered = await client.auth.register(tenant=name, email=email, password=PASSWORD)
    check(registered.user.role == Role.MEMBER and not registered.user.email_verified, "auth.register", registered)
    step("auth.register", user_id=registered.user.id)

    token = await read_mail(client, tenant_id, MailTemplate.VERIFY_EMAIL, email)
    verified = await client.auth.verify_email(token=token)
    check(verified.user.email_verified, "auth.verify_email", verified)
    step("auth.verify_email")

    session = await client.auth.login(tenant=name, email=email, password=PASSWORD)
    access = session.tokens.access_token
    step("auth.login")

    sessions = await client.auth.sessions_list(token=access)
    check(len(sessions.items) == 2 and sum(1 for s in sessions.items if s.current) == 1, "auth.sessions.list", sessions)
    step("auth.sessions.list", sessions=len(sessions.items))

    ended = await client.auth.logout_all(token=access)
    check(ended.revoked == 2, "auth.logout_all", ended)
    try:
        await client.auth.me(token=access)
        check(False, "logout_all ends this session too")
    except Unauthenticated:
        pass
    step("auth.logout_all")

    await client.auth.request_password_reset(tenant=name, email=email)
    # The same reply for an unknown address.
    await client.auth.request_password_reset(tenant=name, email="nobody@example.com")
    token = await read_mail(client, tenant_id, MailTemplate.PASSWORD_RESET, email)
    step("auth.request_password_reset")

    try:
        await client.auth.reset_password(token=token, new_password="password")
        check(False, "a weak new password")
    except ValidationFailed as weak:
        check("new_password" in weak.details["fields"], "the field named", weak.details)
    await client.auth.reset_password(token=token, new_password=NEW_PASSWORD)
    try:
        await client.auth.reset_password(token=token, new_password=NEW_PASSWORD)
        check(False, "a reset token works once")
    except InvalidToken:
        pass
    step("auth.reset_password")

    try:
        await client.auth.login(tenant=name, email=email, password=PASSWORD)
        check(False, "the old password is gone")
    except InvalidCredentials:
        pass
    again = await client.auth.login(tenant=name, email=email, password=NEW_PASSWORD)
    check(again.user.email == email, "login with the new password", again)
    step("auth.login (new password)")


if __name__ == "__main__":
    asyncio.run(run(flow))
