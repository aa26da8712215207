"""Verify an Olympus access token in Python, with the published key set only.

Access tokens are EdDSA (Ed25519) JWTs (contract section 4). Anyone can
check one without a secret: fetch the key set from `auth.jwks` over NATS (or
GET /.well-known/jwks.json from the gateway) and verify with PyJWT,
accepting exactly algorithm EdDSA, type at+jwt, the issuer and the
audience. A token whose `kid` is not in the set makes the verifier fetch the
set again (a key may have been published since), at most once every few
seconds in a long-running service.

The token is read from standard input (a token on the command line is
visible to every user of the machine):

    pip install -r examples/python/requirements.txt ./clients/python
    printf '%s' "$TOKEN" | python3 examples/python/verify_token.py

It prints the token's claims as JSON and exits 0, or says why the token is
refused and exits 1. Verifying a signature says who the token was issued
to; whether its session was revoked since is the workers' to say
(`auth.introspect`).

Environment: NATS_URL (default nats://127.0.0.1:4222),
OLYMPUS_SUBJECT_PREFIX (default olympus), OLYMPUS_JWT_ISSUER and
OLYMPUS_JWT_AUDIENCE (default olympus). With OLYMPUS_JWKS_URL (e.g.
http://127.0.0.1:8080/.well-known/jwks.json) the key set comes from the
gateway over HTTP instead: the way for a service whose NATS user may not
call the workers (nats/nats-server.conf gives Python services an account
of their own). The end-to-end tests run this file both ways.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import urllib.request
from typing import Any

import jwt

from olympus_client import Olympus


class KeySet:
    """The published keys, fetched again for an unknown kid (not too often)."""

    REFETCH_AFTER = 5.0

    def __init__(self, client: Olympus | None, url: str | None = None) -> None:
        self.client, self.url = client, url
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at = 0.0

    async def fetch(self) -> None:
        key_set: dict[str, Any]
        if self.url:
            with urllib.request.urlopen(self.url, timeout=5) as response:
                key_set = json.loads(response.read())
        elif self.client is not None:
            reply = await self.client.auth.jwks()
            key_set = reply.model_dump(mode="json", by_alias=True)
        else:
            raise RuntimeError("no way to fetch the key set")
        self.keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(key_set).keys if key.key_id}
        self.fetched_at = time.monotonic()

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return None
        if kid not in self.keys and time.monotonic() - self.fetched_at >= self.REFETCH_AFTER:
            await self.fetch()
        return self.keys.get(kid)


async def verify(token: str, keys: KeySet, issuer: str, audience: str) -> dict[str, Any]:
    """The claims of `token`; raises jwt.InvalidTokenError when it is refused."""
    header = jwt.get_unverified_header(token)
    if header.get("alg") != "EdDSA" or header.get("typ") != "at+jwt":
        raise jwt.InvalidTokenError(f"not an EdDSA at+jwt token: {header}")
    key = await keys.key(header.get("kid"))
    if key is None:
        raise jwt.InvalidTokenError(f"key {header.get('kid')!r} is not published")
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        issuer=issuer,
        audience=audience,
        leeway=5,
        options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub"]},
    )
    return claims


async def main() -> None:
    token = sys.stdin.read().strip()
    if not token:
        sys.exit("give the access token on standard input")
    url = os.environ.get("OLYMPUS_JWKS_URL")
    client = None
    if not url:
        client = await Olympus.connect(
            os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
            prefix=os.environ.get("OLYMPUS_SUBJECT_PREFIX", "olympus"),
            inbox_prefix=os.environ.get("NATS_INBOX_PREFIX", "_INBOX"),
        )
    try:
        keys = KeySet(client, url)
        await keys.fetch()
        claims = await verify(
            token,
            keys,
            os.environ.get("OLYMPUS_JWT_ISSUER", "olympus"),
            os.environ.get("OLYMPUS_JWT_AUDIENCE", "olympus"),
        )
    except jwt.InvalidTokenError as refused:
        print(f"refused: {refused}", file=sys.stderr)
        sys.exit(1)
    finally:
        if client is not None:
            await client.close()
    print(json.dumps(claims, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main())
