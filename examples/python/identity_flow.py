"""Olympus from Python: signup, login, me, refresh, logout, and bad input.

A client of the wire contract (shared/contract/v1.md) written only against
field names and error codes, in MessagePack and in JSON:

    pip install -r examples/python/requirements.txt
    NATS_URL=nats://127.0.0.1:4222 OLYMPUS_SUBJECT_PREFIX=olympus \
        python3 examples/python/identity_flow.py

It prints one JSON line per step and exits non-zero at the first reply that
breaks the contract. The end-to-end tests run it against `olympus serve`.
"""

import asyncio
import json
import os
import sys
import uuid

import msgpack
import nats

PREFIX = os.environ.get("OLYMPUS_SUBJECT_PREFIX", "olympus")
NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
PASSWORD = "velvet-orbit-cactus-harmonica"


class Codec:
    def __init__(self, name):
        self.name = name
        self.content_type = f"application/{name}"

    def encode(self, obj):
        if self.name == "json":
            return json.dumps(obj).encode()
        return msgpack.packb(obj)

    def decode(self, data):
        if self.name == "json":
            return json.loads(data)
        return msgpack.unpackb(data)


def check(condition, what, reply):
    if not condition:
        print(json.dumps({"step": "failed", "what": what, "reply": reply}, default=str))
        sys.exit(1)


async def call(nc, codec, op, body, token=None, headers=None):
    h = {"Content-Type": codec.content_type}
    if token:
        h["Authorization"] = f"Bearer {token}"
    h.update(headers or {})
    payload = body if isinstance(body, bytes) else codec.encode(body)
    msg = await nc.request(f"{PREFIX}.{op}", payload, headers=h, timeout=10)
    status = int(msg.headers.get("Nats-Service-Error-Code", "200")) if msg.headers else 200
    ctype = (msg.headers or {}).get("Content-Type", "application/msgpack")
    data = json.loads(msg.data) if ctype == "application/json" else msgpack.unpackb(msg.data)
    return status, data, msg.headers or {}


def step(name, codec, **fields):
    print(json.dumps({"step": name, "encoding": codec.name, **fields}))


async def flow(nc, codec):
    slug = f"py-{codec.name}-{uuid.uuid4().hex[:8]}"
    email = f"owner@{slug}.example.com"

    status, body, headers = await call(
        nc, codec, "tenant.v1.create",
        {"slug": slug, "name": "Python Co", "owner": {"email": email, "password": PASSWORD}},
        headers={"X-Correlation-Id": f"py-{slug}"},
    )
    check(status == 200 and body["tenant"]["slug"] == slug, "tenant.create", body)
    check(headers.get("X-Correlation-Id") == f"py-{slug}", "correlation id echoed", dict(headers))
    check(body["owner"]["role"] == "owner" and body["tokens"]["token_type"] == "Bearer", "owner and tokens", body)
    step("tenant.create", codec, tenant_id=body["tenant"]["id"])

    status, body, _ = await call(nc, codec, "auth.v1.login", {"tenant": slug, "email": email, "password": PASSWORD})
    check(status == 200 and body["user"]["email"] == email, "auth.login", body)
    access, refresh = body["tokens"]["access_token"], body["tokens"]["refresh_token"]
    step("auth.login", codec, user_id=body["user"]["id"])

    status, body, _ = await call(nc, codec, "auth.v1.me", {}, token=access)
    check(status == 200 and body["user"]["email"] == email, "auth.me", body)
    step("auth.me", codec, email=body["user"]["email"])

    status, body, _ = await call(nc, codec, "auth.v1.refresh", {"refresh_token": refresh})
    check(status == 200 and body["tokens"]["refresh_token"] != refresh, "auth.refresh", body)
    refresh = body["tokens"]["refresh_token"]
    step("auth.refresh", codec)

    status, body, _ = await call(nc, codec, "auth.v1.logout", {"refresh_token": refresh})
    check(status == 200 and body == {}, "auth.logout", body)
    status, body, _ = await call(nc, codec, "auth.v1.me", {}, token=access)
    check(status == 401 and body["code"] == "unauthenticated", "logout ends the session of its access token", body)
    step("auth.logout", codec)

    # Bad input: the contract's error replies.
    status, body, headers = await call(nc, codec, "auth.v1.login", {"tenant": slug, "email": email, "password": "nope", "remember": True})
    check(status == 400 and body["code"] == "bad_request" and body["details"]["field"] == "remember", "unknown field", body)
    check(headers.get("Nats-Service-Error-Code") == "400", "error headers", dict(headers))
    status, body, _ = await call(nc, codec, "auth.v1.login", {"tenant": slug, "email": email, "password": "wrong-password-here"})
    check(status == 401 and body["code"] == "invalid_credentials", "wrong password", body)
    status, body, _ = await call(nc, codec, "auth.v1.me", {}, token="not-a-token")
    check(status == 401 and body["code"] == "unauthenticated", "bad token", body)
    status, body, _ = await call(nc, codec, "tenant.v1.create", {"slug": "X", "name": "", "owner": {"email": "x", "password": "x"}})
    check(status == 422 and set(body["details"]["fields"]) == {"slug", "name", "owner.email", "owner.password"}, "validation", body)
    status, body, _ = await call(nc, codec, "tenant.v1.create", b"\xc1 not valid")
    check(status == 400 and body["code"] == "bad_request", "undecodable", body)
    step("errors", codec)


async def run_flows(flow, jetstream=False):
    """Runs `flow(nc, codec)` (or `flow(nc, js, codec)`) in MessagePack, then
    JSON, then prints the final `done` step."""
    nc = await nats.connect(NATS_URL)
    try:
        for codec in (Codec("msgpack"), Codec("json")):
            if jetstream:
                await flow(nc, nc.jetstream(), codec)
            else:
                await flow(nc, codec)
        print(json.dumps({"step": "done"}))
    finally:
        await nc.close()


async def main():
    nc = await nats.connect(NATS_URL)
    try:
        for codec in (Codec("msgpack"), Codec("json")):
            await flow(nc, codec)
        # Unsupported content type: 415, answered in MessagePack.
        msg = await nc.request(f"{PREFIX}.tenant.v1.create", b"<xml/>", headers={"Content-Type": "text/xml"}, timeout=10)
        body = msgpack.unpackb(msg.data)
        check(msg.headers["Nats-Service-Error-Code"] == "415" and body["code"] == "unsupported_media_type", "415", body)
        print(json.dumps({"step": "done"}))
    finally:
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
