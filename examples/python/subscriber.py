"""Olympus events from Python: a durable JetStream consumer printing JSON lines.

Subscribes to one tenant's events (or every tenant's) on the events stream
and prints each envelope as one JSON line. The consumer is durable: stop and
start it again and it resumes where it left off.

    pip install -r examples/python/requirements.txt
    python3 examples/python/subscriber.py --tenant 0193... --durable billing

With --spec contracts/spec/v1.json it also checks each event's `data`
against the JSON Schema the spec publishes for its type, and exits with an
error on the first event that does not match (or whose type has no schema).

Environment: NATS_URL (default nats://127.0.0.1:4222) and
OLYMPUS_SUBJECT_PREFIX (default olympus). The end-to-end tests run this file.
"""

import argparse
import asyncio
import json
import os
import sys

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

try:
    import jsonschema
except ImportError:  # only --spec needs it
    jsonschema = None


def stream_name(prefix):
    return prefix.upper().replace("-", "_") + "_EVENTS"


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", help="only this tenant's events (its id)")
    parser.add_argument("--type", dest="event_type", help="only this event type, e.g. order.placed")
    parser.add_argument("--durable", default="python-subscriber", help="durable consumer name")
    parser.add_argument("--count", type=int, help="exit after this many events")
    parser.add_argument("--spec", help="validate each event's data against this spec (spec/v1.json)")
    args = parser.parse_args()
    schemas = None
    if args.spec:
        if jsonschema is None:
            sys.exit("--spec needs the jsonschema package (pip install -r requirements.txt)")
        with open(args.spec) as spec:
            schemas = json.load(spec)["event_data"]

    prefix = os.environ.get("OLYMPUS_SUBJECT_PREFIX", "olympus")
    subject = f"{prefix}.events.{args.tenant or '*'}.{args.event_type or '>'}"
    # A deployment that gives this user its own inbox prefix
    # (nats/nats-server.conf: _INBOX_services) names it here.
    nc = await nats.connect(
        os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        inbox_prefix=os.environ.get("NATS_INBOX_PREFIX", "_INBOX"),
    )
    js = nc.jetstream()
    # The stream is named rather than looked up by subject: with
    # nats/nats-server.conf it is the subscribers' own copy, which holds no
    # subjects of its own (nats/README.md).
    sub = await js.pull_subscribe(
        subject,
        durable=args.durable,
        stream=stream_name(prefix),
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
    )
    printed = 0
    try:
        while args.count is None or printed < args.count:
            try:
                messages = await sub.fetch(batch=10, timeout=5)
            except nats.errors.TimeoutError:
                continue
            for msg in messages:
                envelope = json.loads(msg.data)
                if schemas is not None:
                    schema = schemas.get(envelope["type"])
                    if schema is None:
                        sys.exit(f"no data schema for {envelope['type']} in the spec")
                    try:
                        jsonschema.validate(envelope["data"], schema)
                    except jsonschema.ValidationError as err:
                        sys.exit(f"{envelope['type']} data does not match the spec: {err.message}")
                print(json.dumps(envelope), flush=True)
                await msg.ack()
                printed += 1
                if args.count is not None and printed >= args.count:
                    break
    finally:
        await nc.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
