"""Olympus's events (contract section 7), typed, from its JetStream stream.

```python
async for event in client.events(durable="billing", types=["order.placed"]):
    if isinstance(event.data, OrderPlaced):
        bill(event.data.order)
```

Delivery is at least once. An event is acknowledged when the loop asks for
the next one, that is after the block that handled it succeeded (or
earlier, with `await event.ack()`); if the block raises, or the loop is left
with `break` before `event.ack()`, the event is not acknowledged and
JetStream delivers it again after its wait. JetStream drops
duplicates only within its window (2 minutes by default), so a consumer
that must not act twice keeps the ids it processed: pass a `processed`
store (`MemoryStore`, `FileStore`, or your own `ProcessedStore`), and an
event already in it is acknowledged and skipped.

An event of a type this package does not know (a later revision's) is
acknowledged and skipped, with a warning on the `olympus_client.events`
logger; one whose data does not parse is logged and terminated (delivering
it again would not change it). A durable consumer keeps the filter it was
made with: asking it for other tenants or types is a `ValueError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import NotFoundError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .models import EVENT_DATA, EventData, EventType, Mail

log = logging.getLogger("olympus_client.events")


class Event(BaseModel):
    """One event: the envelope's fields, `data` as its type's class, and
    where it came from."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    """UUIDv7; also the message's `Nats-Msg-Id`."""
    type: EventType
    tenant_id: UUID
    occurred_at: datetime
    correlation_id: str
    actor_id: UUID | None = None
    schema_version: int
    data: EventData
    subject: str
    """The subject it was published on."""
    msg_id: str
    """The `Nats-Msg-Id` header (JetStream's duplicate suppression)."""
    raw: dict[str, Any] = Field(repr=False)
    """The envelope as published (JSON), to forward or store as it is."""

    _done: Callable[[], Awaitable[None]] | None = PrivateAttr(default=None)

    async def ack(self) -> None:
        """Marks the event handled now (recorded in the `processed` store,
        then acknowledged) rather than when the loop asks for the next one:
        before leaving the loop with `break`, say. Once only; later calls
        do nothing."""
        done, self._done = self._done, None
        if done is not None:
            await done()


def parse_event(subject: str, headers: dict[str, str] | None, payload: bytes) -> Event:
    """An event from one message of the events stream."""
    raw = json.loads(payload)
    data_class = EVENT_DATA[raw["type"]]
    envelope = {**raw, "data": data_class.model_validate(raw["data"])}
    msg_id = (headers or {}).get("Nats-Msg-Id", str(raw["id"]))
    return Event.model_validate({**envelope, "subject": subject, "msg_id": msg_id, "raw": raw})


class ProcessedStore(Protocol):
    """Remembers the ids of the events a consumer has processed."""

    async def seen(self, event_id: UUID) -> bool:
        """Whether `event_id` was processed already."""
        ...

    async def add(self, event_id: UUID) -> None:
        """Records that `event_id` is processed."""
        ...


class MemoryStore:
    """The last `limit` processed ids, in memory (lost on restart)."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._ids: OrderedDict[UUID, None] = OrderedDict()

    async def seen(self, event_id: UUID) -> bool:
        return event_id in self._ids

    async def add(self, event_id: UUID) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)


class FileStore(MemoryStore):
    """Processed ids kept in a file (one per line, appended and flushed to
    disk as each is added), so a consumer restarted keeps deduplicating;
    the last `limit` are remembered."""

    def __init__(self, path: str | os.PathLike[str], limit: int = 100_000) -> None:
        super().__init__(limit)
        self.path = Path(path)
        text = self.path.read_text() if self.path.exists() else ""
        kept = 0
        for line in text.splitlines():
            try:
                self._ids[UUID(line.strip())] = None
                kept += 1
            except ValueError:
                continue  # a line torn by a crash: its event comes again
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)
        if kept > 2 * self.limit:
            # Rewrite it with the ids remembered, so it does not grow forever.
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text("".join(f"{event_id}\n" for event_id in self._ids))
            os.replace(temporary, self.path)
            text = "x\n"
        self._file = self.path.open("a")
        if text and not text.endswith("\n"):
            self._file.write("\n")

    async def add(self, event_id: UUID) -> None:
        await super().add(event_id)
        self._file.write(f"{event_id}\n")
        self._file.flush()
        await asyncio.to_thread(os.fsync, self._file.fileno())


def stream_name(prefix: str, kind: str) -> str:
    """`OLYMPUS_EVENTS` for prefix `olympus` and kind `EVENTS`."""
    return prefix.upper().replace("-", "_") + "_" + kind


async def _messages(
    subscription: Any, batch: int, stop_when_idle: float | None
) -> AsyncIterator[Msg]:
    """The subscription's messages, fetched `batch` at a time; ends after
    `stop_when_idle` seconds without one (never, when None)."""
    idle = 0.0
    wait = 1.0 if stop_when_idle is None else max(0.1, min(1.0, stop_when_idle))
    while True:
        try:
            messages = await subscription.fetch(batch, timeout=wait)
        except (NatsTimeout, asyncio.TimeoutError):
            idle += wait
            if stop_when_idle is not None and idle >= stop_when_idle:
                return
            continue
        idle = 0.0
        for message in messages:
            # Its acknowledgement wait starts again now that it is handled.
            await message.in_progress()
            yield message


def _handled(
    message: Msg, event_id: UUID, processed: ProcessedStore | None
) -> Callable[[], Awaitable[None]]:
    async def done() -> None:
        if processed is not None:
            await processed.add(event_id)
        await message.ack()

    return done


async def consume(
    nc: NATS,
    prefix: str,
    *,
    durable: str,
    tenant_id: UUID | str | None = None,
    types: list[str] | None = None,
    processed: ProcessedStore | None = None,
    batch: int = 8,
    stop_when_idle: float | None = None,
    deliver_all: bool = True,
) -> AsyncGenerator[Event, None]:
    """Events of one tenant (or all) and of some types (or all), through
    the durable pull consumer `durable` on the events stream. A new
    consumer starts from the stream's first event (`deliver_all`) or from
    new ones. Several types are filtered here (one is filtered by
    JetStream). See the module's documentation for acknowledgement and
    deduplication."""
    tenant = str(tenant_id) if tenant_id else "*"
    only = types[0] if types and len(types) == 1 else ">"
    subject = f"{prefix}.events.{tenant}.{only}"
    stream = stream_name(prefix, "EVENTS")
    js = nc.jetstream()
    # A durable made for another filter would deliver other events, which
    # this loop would acknowledge unseen: refuse rather than lose them.
    try:
        existing = await js.consumer_info(stream, durable)
    except NotFoundError:
        existing = None
    if existing is not None and existing.config.filter_subject not in (None, subject):
        raise ValueError(
            f"the durable consumer {durable!r} reads {existing.config.filter_subject!r}, not "
            f"{subject!r}: use another durable name for other tenants or types"
        )
    config = ConsumerConfig(
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL if deliver_all else DeliverPolicy.NEW,
    )
    subscription = await js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
    try:
        async for message in _messages(subscription, batch, stop_when_idle):
            kind = message.subject.rsplit(".", 2)[-2:]
            event_type = ".".join(kind)
            if types and event_type not in types:
                await message.ack()
                continue
            if event_type not in EVENT_DATA:
                # A type of a later revision than this package: skipped.
                log.warning("skipping an event of type %s, unknown to this package", event_type)
                await message.ack()
                continue
            try:
                event = parse_event(message.subject, message.headers, message.data)
            except (ValueError, KeyError) as invalid:
                # Not the contract's shape: delivering it again changes nothing.
                log.error("an event on %s does not parse, not delivered again: %s", message.subject, invalid)
                await message.term()
                continue
            if processed is not None and await processed.seen(event.id):
                await message.ack()
                continue
            event._done = _handled(message, event.id, processed)
            yield event
            # The caller's block for this event succeeded.
            await event.ack()
    finally:
        await _unsubscribe(subscription)


async def _unsubscribe(subscription: Any) -> None:
    """Ends the subscription, unless the connection went first."""
    try:
        await subscription.unsubscribe()
    except NatsError:
        pass


async def consume_mail(
    nc: NATS,
    prefix: str,
    *,
    durable: str | None = "mailer",
    tenant_id: UUID | str | None = None,
    template: str | None = None,
    api_prefix: str | None = None,
    stop_when_idle: float | None = None,
) -> AsyncGenerator[Mail, None]:
    """The mail stream's messages (of one tenant, one template, or all)
    through the pull consumer `durable` (created when missing, unless the
    deployment made it; None: one for this loop only), acknowledged once
    the caller's block succeeded: a mail not acknowledged is delivered
    again. The stream is a work queue: an acknowledged mail is gone for
    every reader. Tokens are in these messages: handle them as secrets."""
    js = nc.jetstream(prefix=api_prefix) if api_prefix else nc.jetstream()
    subject = f"{prefix}.mail.{tenant_id or '*'}.{template or '*'}"
    subscription = await js.pull_subscribe(
        subject,
        durable=durable,
        stream=stream_name(prefix, "MAIL"),
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
    )
    try:
        async for message in _messages(subscription, 16, stop_when_idle):
            yield Mail.model_validate_json(message.data)
            await message.ack()
    finally:
        if durable is None:
            # A consumer for this loop only goes with it: a work queue takes
            # one consumer per filter, and the next loop needs the filter.
            try:
                info = await subscription.consumer_info()
                await js.delete_consumer(stream_name(prefix, "MAIL"), info.name)
            except NatsError:
                pass
        await _unsubscribe(subscription)
