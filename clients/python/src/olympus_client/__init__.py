"""Olympus's typed Python client: its operations over NATS request-reply
and its events, with models generated from the contract's spec
(`contracts/spec/v1.json`).

```python
from olympus_client import Olympus
from olympus_client.errors import InvalidCredentials

async with await Olympus.connect("nats://127.0.0.1:4222") as client:
    session = await client.auth.login(tenant="acme", email="owner@acme.example", password="...")
    me = await client.auth.me(token=session.tokens.access_token)
```
"""

from . import errors, models
from ._base import UNSET, Model, Reply, Unset
from .client import Olympus
from .events import Event, FileStore, MemoryStore, ProcessedStore

__all__ = [
    "Olympus",
    "Event",
    "Model",
    "Reply",
    "UNSET",
    "Unset",
    "ProcessedStore",
    "MemoryStore",
    "FileStore",
    "errors",
    "models",
]
