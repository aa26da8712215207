"""What the generated modules build on: the model base class, the marker of
a field left out, and the signature of a call."""

from __future__ import annotations

from enum import Enum
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr, TypeAdapter


class Model(BaseModel):
    """A contract type. Unknown fields in replies and events are ignored, so
    a client keeps working when a later revision adds fields."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Reply(Model):
    """An operation's reply, with the correlation id it came with."""

    _correlation_id: str = PrivateAttr(default="")

    @property
    def correlation_id(self) -> str:
        """The correlation id of the request that brought this reply (also
        in the workers' logs and in the events it caused); empty for models
        made here."""
        return self._correlation_id


class OpenEnum(str, Enum):
    """An enum of the contract that takes values it does not know: a later
    revision may add values (section 8), and a reply or event carrying one
    still parses, as a member made for that value (compare it with the
    wire's string)."""

    @classmethod
    def _missing_(cls, value: object) -> OpenEnum | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper()
        member._value_ = value
        return member


class Unset(Enum):
    """The marker of an optional argument left out (not sent), as opposed
    to `None` (sent as nil: in an update, it removes the value)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET

R = TypeVar("R", bound=Reply)


class Caller(Protocol):
    """Sends one request and returns its reply (`Olympus.call`)."""

    async def __call__(
        self,
        operation: str,
        request: type[Model],
        reply: type[R] | TypeAdapter[R],
        fields: dict[str, object],
        *,
        token: str | None,
        idempotency_key: str | None,
        correlation_id: str | None,
        timeout: float | None,
    ) -> R: ...
