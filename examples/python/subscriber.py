"""Olympus events from Python: a durable JetStream consumer printing JSON lines.

Subscribes to one tenant's events (or every tenant's) on the events stream
and prints each envelope as one JSON line. The consumer is durable: stop and
start it again and it resumes where it left off.

    pip install -r examples/python/requirements.txt
    python3 examples/python/subscriber.py --tenant 0193... --durable billing

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


def stream_name(prefix):
    return prefix.upper().replace("-", "_") + "_EVENTS"


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", help="only this tenant's events (its id)")
    parser.add_argument("--type", dest="event_type", help="only this event type, e.g. order.placed")
    parser.add_argument("--durable", default="python-subscriber", help="durable consumer name")
    parser.add_argument("--count", type=int, help="exit after this many events")
    args = parser.parse_args()

    prefix = os.environ.get("OLYMPUS_SUBJECT_PREFIX", "olympus")
    subject = f"{prefix}.events.{args.tenant or '*'}.{args.event_type or '>'}"
    nc = await nats.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    js = nc.jetstream()
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
