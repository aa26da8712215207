"""Olympus events from Python: a durable consumer printing JSON lines, on the typed client.

Subscribes to one tenant's events (or every tenant's) on the events stream
and prints each envelope as one JSON line, as published. The consumer is
durable: stop and start it again and it resumes where it left off. Each
event's `data` is parsed into its generated class on the way (a mismatch
stops it); with --spec contracts/spec/v1.json the data is also checked
against the JSON Schema the spec publishes for its type. With --processed
FILE the ids of printed events are kept in FILE, and an event delivered
again (JetStream delivers at least once) is not printed twice.

    pip install -r examples/python/requirements.txt ./clients/python
    python3 examples/python/subscriber.py --tenant 0193... --durable billing

Environment: NATS_URL (default nats://127.0.0.1:4222),
OLYMPUS_SUBJECT_PREFIX (default olympus), NATS_INBOX_PREFIX (this NATS
user's own inbox prefix, default _INBOX). The end-to-end tests run this file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import jsonschema

from olympus_client import FileStore, Olympus, ProcessedStore


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tenant", help="only this tenant's events (its id)")
    parser.add_argument("--type", dest="event_type", help="only this event type, e.g. order.placed")
    parser.add_argument("--durable", default="python-subscriber", help="durable consumer name")
    parser.add_argument("--count", type=int, help="exit after this many events")
    parser.add_argument("--spec", help="also check each event's data against this spec's schema")
    parser.add_argument("--processed", help="keep the ids of processed events in this file")
    args = parser.parse_args()
    schemas: dict[str, Any] | None = None
    if args.spec:
        with open(args.spec) as spec:
            schemas = json.load(spec)["event_data"]
    processed: ProcessedStore | None = FileStore(args.processed) if args.processed else None
    client = await Olympus.connect(
        os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        prefix=os.environ.get("OLYMPUS_SUBJECT_PREFIX", "olympus"),
        inbox_prefix=os.environ.get("NATS_INBOX_PREFIX", "_INBOX"),
    )
    printed = 0
    async with client:
        async for event in client.events(
            durable=args.durable,
            tenant_id=args.tenant,
            types=[args.event_type] if args.event_type else None,
            processed=processed,
        ):
            if schemas is not None:
                schema = schemas.get(event.type.value)
                if schema is None:
                    sys.exit(f"no data schema for {event.type.value} in the spec")
                try:
                    jsonschema.validate(event.raw["data"], schema)
                except jsonschema.ValidationError as err:
                    sys.exit(f"{event.type.value} data does not match the spec: {err.message}")
            print(json.dumps(event.raw), flush=True)
            printed += 1
            if args.count is not None and printed >= args.count:
                await event.ack()  # the loop ends before asking for the next
                break


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
