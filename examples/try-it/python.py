# Sign up the tenant "acme" (or, when it exists, log in as its owner) and ask who we are.
import asyncio, json, os
import nats

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
PREFIX = os.environ.get("OLYMPUS_SUBJECT_PREFIX", "olympus")
OWNER = {"email": "ada@acme.example", "password": "velvet-orbit-cactus-harmonica"}


async def call(nc, operation, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    reply = await nc.request(f"{PREFIX}.{operation}", json.dumps(body).encode(), headers=headers, timeout=5)
    # An error reply carries its HTTP-like status in this header; a success has none.
    return (reply.headers or {}).get("Nats-Service-Error-Code"), json.loads(reply.data)


async def main():
    nc = await nats.connect(NATS_URL)
    status, session = await call(nc, "tenant.v1.create", {"slug": "acme", "name": "Acme", "owner": OWNER})
    if status == "409":  # acme exists already: log in instead
        status, session = await call(nc, "auth.v1.login", {"tenant": "acme", **OWNER})
    assert status is None, session
    status, me = await call(nc, "auth.v1.me", {}, session["tokens"]["access_token"])
    print(me["user"]["email"], me["user"]["role"], "of tenant", me["user"]["tenant_id"])
    await nc.close()


asyncio.run(main())
