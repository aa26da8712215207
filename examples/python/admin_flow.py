"""Olympus from Python: a tenant's owner administers its members.

tenant.create -> members.invite (the token read from the `invite` mail) ->
auth.accept_invite -> members.list (pages) -> members.set_role (the new
member becomes admin, and may then list members) -> members.set_role back
to member (refused on the very next request) -> members.remove (their
token stops working); in MessagePack and in JSON, written only against the
contract's field names:

    pip install -r examples/python/requirements.txt
    NATS_URL=nats://127.0.0.1:4222 OLYMPUS_SUBJECT_PREFIX=olympus \\
        python3 examples/python/admin_flow.py

Prints one JSON line per step; exits non-zero at the first reply that breaks
the contract. The end-to-end tests run it against `olympus serve`.
"""

import asyncio
import uuid

from account_flow import read_mail
from identity_flow import PASSWORD, call, check, run_flows, step

INVITATION_FIELDS = {"id", "email", "role", "expires_at", "created_at"}


async def flow(nc, js, codec):
    slug = f"pyadmin-{codec.name}-{uuid.uuid4().hex[:8]}"
    status, body, _ = await call(
        nc, codec, "tenant.v1.create",
        {"slug": slug, "name": "Python Admins", "owner": {"email": f"owner@{slug}.example.com", "password": PASSWORD}},
    )
    check(status == 200, "tenant.create", body)
    tenant_id = body["tenant"]["id"]
    owner = body["tokens"]["access_token"]

    email = f"new@{slug}.example.com"
    status, body, _ = await call(nc, codec, "tenant.v1.members.invite", {"email": email, "role": "member"}, token=owner)
    check(status == 200 and set(body["invitation"]) == INVITATION_FIELDS, "members.invite", body)
    check(body["invitation"]["role"] == "member" and body["invitation"]["email"] == email, "the invitation", body)
    status, body, _ = await call(nc, codec, "tenant.v1.members.invitations.list", {}, token=owner)
    check(status == 200 and len(body["items"]) == 1 and body["next_cursor"] is None, "invitations.list", body)
    token = await read_mail(js, tenant_id, "invite", email)
    step("tenant.members.invite", codec)

    status, body, _ = await call(nc, codec, "auth.v1.accept_invite", {"token": token, "password": PASSWORD, "display_name": "Newcomer"})
    check(status == 200 and body["user"]["email_verified"] is True and body["user"]["role"] == "member", "auth.accept_invite", body)
    member_id = body["user"]["id"]
    member = body["tokens"]["access_token"]
    status, body, _ = await call(nc, codec, "auth.v1.accept_invite", {"token": token, "password": PASSWORD})
    check(status == 401 and body["code"] == "invalid_token", "an invitation works once", body)
    step("auth.accept_invite", codec)

    # Pages of one: the owner, then the new member, then the end.
    seen, cursor = [], None
    while True:
        request = {"limit": 1} if cursor is None else {"limit": 1, "cursor": cursor}
        status, body, _ = await call(nc, codec, "tenant.v1.members.list", request, token=owner)
        check(status == 200 and len(body["items"]) <= 1, "members.list", body)
        seen += [u["id"] for u in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    check(len(seen) == 2 and seen[1] == member_id, "every member once, in order", seen)
    step("tenant.members.list", codec, members=len(seen))

    status, body, _ = await call(nc, codec, "tenant.v1.members.list", {}, token=member)
    check(status == 403 and body["code"] == "forbidden", "members may not list members", body)
    status, body, _ = await call(nc, codec, "tenant.v1.members.set_role", {"user_id": member_id, "role": "admin"}, token=owner)
    check(status == 200 and body["user"]["role"] == "admin", "members.set_role admin", body)
    status, body, _ = await call(nc, codec, "tenant.v1.members.list", {}, token=member)
    check(status == 200 and len(body["items"]) == 2, "an admin lists members", body)
    status, body, _ = await call(nc, codec, "tenant.v1.members.set_role", {"user_id": member_id, "role": "member"}, token=owner)
    check(status == 200 and body["user"]["role"] == "member", "members.set_role member", body)
    status, body, _ = await call(nc, codec, "tenant.v1.members.list", {}, token=member)
    check(status == 403, "demoted: refused on the next request, with the same token", body)
    step("tenant.members.set_role", codec)

    status, body, _ = await call(nc, codec, "tenant.v1.members.remove", {"user_id": member_id}, token=owner)
    check(status == 200 and body == {}, "members.remove", body)
    deadline = asyncio.get_running_loop().time() + 1.0
    while True:
        status, body, _ = await call(nc, codec, "auth.v1.me", {}, token=member)
        if status == 401:
            break
        check(asyncio.get_running_loop().time() < deadline, "a removed member's token is refused within 1 s", body)
        await asyncio.sleep(0.05)
    step("tenant.members.remove", codec)


async def main():
    await run_flows(flow, jetstream=True)


if __name__ == "__main__":
    asyncio.run(main())
