"""`Olympus`: one NATS connection, the operations by service, the events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any, TypeVar

import msgpack  # type: ignore[import-untyped]  # (no stubs published)
import nats
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import TypeAdapter

from . import events as _events
from ._base import UNSET, Model, Reply
from .errors import BY_CODE, NoResponders, OlympusError, Timeout
from .models import Mail
from .services import AuthService, CommerceService, TenantService

R = TypeVar("R", bound=Reply)


class Olympus:
    """A client of one Olympus deployment (one NATS, one subject prefix).

    ```python
    client = await Olympus.connect("nats://127.0.0.1:4222", prefix="olympus")
    session = await client.auth.login(tenant="acme", email="a@acme.example", password="...")
    me = await client.auth.me(token=session.tokens.access_token)
    ```

    Requests travel as MessagePack; replies are the operation's model, and
    error replies raise their class from `olympus_client.errors`.
    """

    def __init__(self, nc: NATS, *, prefix: str = "olympus", timeout: float = 10.0) -> None:
        self.nc = nc
        self.prefix = prefix
        self.timeout = timeout
        self.auth = AuthService(self.call)
        self.tenant = TenantService(self.call)
        self.commerce = CommerceService(self.call)

    @classmethod
    async def connect(
        cls,
        servers: str | list[str] = "nats://127.0.0.1:4222",
        *,
        prefix: str = "olympus",
        timeout: float = 10.0,
        inbox_prefix: str = "_INBOX",
        **options: Any,
    ) -> Olympus:
        """Connects to NATS. `prefix` is the deployment's subject prefix
        (`OLYMPUS_SUBJECT_PREFIX`); `timeout` bounds each request (seconds);
        `inbox_prefix` is this NATS user's own, when the server gives it one
        (nats/nats-server.conf). Other options go to `nats.connect`."""
        nc = await nats.connect(servers, inbox_prefix=inbox_prefix, **options)
        return cls(nc, prefix=prefix, timeout=timeout)

    async def close(self) -> None:
        """Drains and closes the connection (closes it when draining takes
        longer than the connection's drain time-out)."""
        try:
            await self.nc.drain()
        except nats.errors.Error:
            await self.nc.close()

    async def __aenter__(self) -> Olympus:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def call(
        self,
        operation: str,
        request: type[Model],
        reply: type[R] | TypeAdapter[R],
        fields: dict[str, object],
        *,
        token: str | None = None,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> R:
        """Sends `operation` (e.g. `auth.v1.login`) with `fields` (arguments
        left `UNSET` are not sent), checked against the `request` model, and
        returns the `reply` model (or, for a reply of several shapes, the
        one its adapter finds). The service methods call this."""
        sent = {name: value for name, value in fields.items() if value is not UNSET}
        body = request.model_validate(sent).model_dump(
            mode="json", by_alias=True, exclude_unset=True
        )
        correlation_id = correlation_id or str(uuid.uuid4())
        headers = {"Content-Type": "application/msgpack", "X-Correlation-Id": correlation_id}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        subject = f"{self.prefix}.{operation}"
        wait = self.timeout if timeout is None else timeout
        try:
            message = await self.nc.request(
                subject, msgpack.packb(body), timeout=wait, headers=headers
            )
        except NoRespondersError:
            raise NoResponders(
                f"no worker answers {subject}", operation=operation, correlation_id=correlation_id
            ) from None
        except NatsTimeout:
            raise Timeout(
                f"no reply from {subject} within {wait} s (the outcome is unknown)",
                operation=operation,
                correlation_id=correlation_id,
            ) from None
        replied = message.headers or {}
        correlation_id = replied.get("X-Correlation-Id", correlation_id)
        decoded = msgpack.unpackb(message.data) if message.data else {}
        if "Nats-Service-Error-Code" in replied:
            raise _error(decoded, replied, correlation_id)
        # A reply of several shapes (`auth.login`'s) comes with its adapter.
        if isinstance(reply, TypeAdapter):
            result = reply.validate_python(decoded)
        else:
            result = reply.model_validate(decoded)
        result._correlation_id = correlation_id
        return result

    def events(
        self,
        *,
        durable: str,
        tenant_id: uuid.UUID | str | None = None,
        types: list[str] | None = None,
        processed: _events.ProcessedStore | None = None,
        batch: int = 8,
        stop_when_idle: float | None = None,
        deliver_all: bool = True,
    ) -> AsyncGenerator[_events.Event, None]:
        """The events stream's events as typed `Event`s, through the durable
        pull consumer `durable` (created when missing; a second run resumes
        where the first stopped). See `olympus_client.events.consume`."""
        return _events.consume(
            self.nc,
            self.prefix,
            durable=durable,
            tenant_id=tenant_id,
            types=types,
            processed=processed,
            batch=batch,
            stop_when_idle=stop_when_idle,
            deliver_all=deliver_all,
        )

    def mail(
        self,
        *,
        durable: str | None = "mailer",
        tenant_id: uuid.UUID | str | None = None,
        template: str | None = None,
        api_prefix: str | None = None,
        stop_when_idle: float | None = None,
    ) -> AsyncGenerator[Mail, None]:
        """The mail stream's messages (a work queue: each is taken once), for
        the mailer. `api_prefix` is the mailer's JetStream API prefix in the
        production NATS layout (`$JS.olympus.API`). See
        `olympus_client.events.consume_mail`. Leaving it early, close it
        (`contextlib.aclosing`): its reader holds the work queue's filter
        until then."""
        return _events.consume_mail(
            self.nc,
            self.prefix,
            durable=durable,
            tenant_id=tenant_id,
            template=template,
            api_prefix=api_prefix,
            stop_when_idle=stop_when_idle,
        )


def _error(decoded: Any, headers: dict[str, str], correlation_id: str) -> OlympusError:
    """The exception of an error reply."""
    body = decoded if isinstance(decoded, dict) else {}
    code = str(body.get("code", ""))
    try:
        status = int(headers.get("Nats-Service-Error-Code", "0"))
    except ValueError:
        status = 0
    message = str(body.get("message") or headers.get("Nats-Service-Error", ""))
    details = body.get("details")
    cls = BY_CODE.get(code, OlympusError)
    return cls(
        message,
        code=code or None,
        status=status,
        details=details if isinstance(details, dict) else None,
        correlation_id=str(body.get("correlation_id") or correlation_id),
    )
