"""What the example flows share: the client from the environment, a check
that stops at the first surprise, one JSON line per step, and mail.

The flows use the typed package (`pip install ./clients/python`); mypy
checks them with --strict.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import NoReturn
from uuid import UUID

from olympus_client import Olympus
from olympus_client.models import MailTemplate

PASSWORD = "velvet-orbit-cactus-harmonica"


def check(condition: bool, what: str, got: object = None) -> None:
    """Stops the flow when `condition` does not hold, saying what and why."""
    if not condition:
        fail(what, got)


def fail(what: str, got: object = None) -> NoReturn:
    print(json.dumps({"step": "failed", "what": what, "got": repr(got)}))
    sys.exit(1)


def step(name: str, **fields: object) -> None:
    print(json.dumps({"step": name, **fields}, default=str))


def slug(kind: str) -> str:
    return f"py{kind}-{uuid.uuid4().hex[:8]}"


async def read_mail(
    client: Olympus, tenant_id: UUID, template: MailTemplate, to: str, timeout: float = 10
) -> str:
    """The token of the `template` mail to `to` (each mail read is
    acknowledged: the mail stream is a work queue). The reader is closed
    when it returns, so that the next read of the same template may start
    one (a work queue takes one reader per filter)."""
    mails = client.mail(durable=None, tenant_id=tenant_id, template=template.value, stop_when_idle=timeout)
    async with contextlib.aclosing(mails):
        async for mail in mails:
            check(mail.template == template, "mail template", mail)
            if mail.to == to and mail.token is not None:
                return mail.token
    fail(f"a {template.value} mail to {to}")


async def run(flow: Callable[[Olympus], Awaitable[None]]) -> None:
    """Runs `flow` with a client of NATS_URL and OLYMPUS_SUBJECT_PREFIX,
    then prints the final `done` step."""
    client = await Olympus.connect(
        os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        prefix=os.environ.get("OLYMPUS_SUBJECT_PREFIX", "olympus"),
    )
    async with client:
        await flow(client)
        step("done")
