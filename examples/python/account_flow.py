"""Olympus from Python: an account's life, mail included, on the typed client.

register -> verify the email (its token read from the mail stream) ->
login -> sessions.list -> logout_all -> request a password reset (token read
from the mail stream) -> reset -> login with the new password -> set up TOTP
(codes from pyotp, as an authenticator app makes them) -> log in with a
code -> log in with a recovery code -> turn TOTP off:

    pip install -r examples/python/requirements.txt ./clients/python
    NATS_URL=nats://127.0.0.1:4222 OLYMPUS_SUBJECT_PREFIX=olympus \\
        python3 examples/python/account_flow.py

Prints one JSON line per step; exits non-zero at the first reply that breaks
the contract. The end-to-end tests run it against `olympus serve`. (A real
mailer reads the mail stream the same way, as the only reader.)
"""

from __future__ import annotations

import asyncio
import time

import pyotp

from flows import PASSWORD, check, read_mail, run, slug, step
from olympus_client import Olympus
from olympus_client.errors import InvalidCredentials, InvalidToken, Unauthenticated, ValidationFailed
from olympus_client.models import MailTemplate, MfaChallenge, NewOwner, Role, SessionReply

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
    # Without TOTP, a login answers the session at once.
    check(isinstance(session, SessionReply), "auth.login", session)
    assert isinstance(session, SessionReply)
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
    assert isinstance(again, SessionReply)
    check(again.user.email == email and not again.user.mfa_enabled, "login with the new password", again)
    step("auth.login (new password)")
    await mfa(client, name, email, again.tokens.access_token)


async def mfa(client: Olympus, tenant: str, email: str, access: str) -> None:
    """TOTP: enroll, confirm with a code, log in with a code and with a
    recovery code, turn it off."""
    enrolled = await client.auth.mfa_totp_enroll(token=access)
    # What an authenticator app reads from the QR code of `otpauth_uri`.
    app = pyotp.parse_uri(enrolled.otpauth_uri)
    check(isinstance(app, pyotp.TOTP) and app.secret == enrolled.secret, "an otpauth URI", enrolled.otpauth_uri)
    authenticator = pyotp.TOTP(enrolled.secret)
    now = int(time.time())
    confirmed = await client.auth.mfa_totp_confirm(
        token=access, enrollment_id=enrolled.enrollment_id, code=authenticator.at(now)
    )
    recovery_codes = confirmed.recovery_codes
    check(len(recovery_codes) == 10, "ten recovery codes, shown once", len(recovery_codes))
    step("auth.mfa.totp.confirm")

    challenge = await client.auth.login(tenant=tenant, email=email, password=NEW_PASSWORD)
    check(isinstance(challenge, MfaChallenge) and challenge.methods == ["totp", "recovery_code"], "auth.login asks for a code", challenge)
    assert isinstance(challenge, MfaChallenge)
    try:
        # The confirming code works once: not again for the login.
        await client.auth.login_mfa(mfa_token=challenge.mfa_token, code=authenticator.at(now))
        check(False, "a spent code")
    except InvalidCredentials:
        pass
    # The next step's code (one step of drift is accepted).
    session = await client.auth.login_mfa(mfa_token=challenge.mfa_token, code=authenticator.at(now + 30))
    check(session.user.mfa_enabled is True, "auth.login_mfa", session)
    step("auth.login_mfa (TOTP)")

    challenge = await client.auth.login(tenant=tenant, email=email, password=NEW_PASSWORD)
    assert isinstance(challenge, MfaChallenge)
    by_code = await client.auth.login_mfa(mfa_token=challenge.mfa_token, recovery_code=recovery_codes[0])
    status = await client.auth.mfa_status(token=by_code.tokens.access_token)
    check(status.totp and status.recovery_codes_left == 9, "auth.mfa.status", status)
    step("auth.login_mfa (recovery code)", recovery_codes_left=status.recovery_codes_left)

    await client.auth.mfa_disable(
        token=by_code.tokens.access_token, password=NEW_PASSWORD, recovery_code=recovery_codes[1]
    )
    plain = await client.auth.login(tenant=tenant, email=email, password=NEW_PASSWORD)
    check(isinstance(plain, SessionReply), "without TOTP, a login is a password again", plain)
    step("auth.mfa.disable")


if __name__ == "__main__":
    asyncio.run(run(flow))
