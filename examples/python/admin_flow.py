"""Olympus from Python: administering members, on the typed client.

members.invite (its token read from the mail stream) -> accept_invite ->
members.list in pages -> set_role up and down -> remove:

    pip install -r examples/python/requirements.txt ./clients/python
    NATS_URL=nats://127.0.0.1:4222 OLYMPUS_SUBJECT_PREFIX=olympus \\
        python3 examples/python/admin_flow.py

Prints one JSON line per step; exits non-zero at the first reply that breaks
the contract. The end-to-end tests run it against `olympus serve`.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from flows import PASSWORD, check, read_mail, run, slug, step
from olympus_client import UNSET, Olympus, Unset
from olympus_client.errors import Forbidden, InvalidToken, Unauthenticated
from olympus_client.models import MailTemplate, NewOwner, Role


async def flow(client: Olympus) -> None:
    name = slug("admin")
    created = await client.tenant.create(
        slug=name, name="Python Admins", owner=NewOwner(email=f"owner@{name}.example.com", password=PASSWORD)
    )
    owner = created.tokens.access_token

    email = f"new@{name}.example.com"
    invited = await client.tenant.members_invite(token=owner, email=email, role=Role.MEMBER)
    check(invited.invitation.role == Role.MEMBER and invited.invitation.email == email, "members.invite", invited)
    pending = await client.tenant.members_invitations_list(token=owner)
    check(len(pending.items) == 1 and pending.next_cursor is None, "invitations.list", pending)
    token = await read_mail(client, created.tenant.id, MailTemplate.INVITE, email)
    step("tenant.members.invite")

    joined = await client.auth.accept_invite(token=token, password=PASSWORD, display_name="Newcomer")
    check(joined.user.email_verified and joined.user.role == Role.MEMBER, "auth.accept_invite", joined)
    member_id, member = joined.user.id, joined.tokens.access_token
    try:
        await client.auth.accept_invite(token=token, password=PASSWORD)
        check(False, "an invitation works once")
    except InvalidToken:
        pass
    step("auth.accept_invite")

    # Pages of one: the owner, then the new member, then the end.
    seen: list[UUID] = []
    cursor: str | Unset = UNSET
    while True:
        page = await client.tenant.members_list(token=owner, limit=1, cursor=cursor)
        check(len(page.items) <= 1, "members.list", page)
        seen += [user.id for user in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    check(len(seen) == 2 and seen[1] == member_id, "every member once, in order", seen)
    step("tenant.members.list", members=len(seen))

    try:
        await client.tenant.members_list(token=member)
        check(False, "members may not list members")
    except Forbidden:
        pass
    promoted = await client.tenant.members_set_role(token=owner, user_id=member_id, role=Role.ADMIN)
    check(promoted.user.role == Role.ADMIN, "members.set_role admin", promoted)
    listed = await client.tenant.members_list(token=member)
    check(len(listed.items) == 2, "an admin lists members", listed)
    await client.tenant.members_set_role(token=owner, user_id=member_id, role=Role.MEMBER)
    try:
        await client.tenant.members_list(token=member)
        check(False, "demoted: refused on the next request, with the same token")
    except Forbidden:
        pass
    step("tenant.members.set_role")

    await client.tenant.members_remove(token=owner, user_id=member_id)
    deadline = asyncio.get_running_loop().time() + 1.0
    while True:
        try:
            await client.auth.me(token=member)
        except Unauthenticated:
            break
        check(asyncio.get_running_loop().time() < deadline, "a removed member's token is refused within 1 s")
        await asyncio.sleep(0.05)
    step("tenant.members.remove")


if __name__ == "__main__":
    asyncio.run(run(flow))
