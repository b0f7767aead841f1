"""Typed named parameters of control methods: one struct per call, decoded in one place.

A method declares its ``params`` object as a :class:`Params` struct::

    class RecentParams(Params):
        coin: NonEmpty
        limit: Annotated[int, Meta(ge=1, le=5000)] = 100

:func:`decode_params` turns the request's ``params`` into that struct or raises
:class:`~candlewick.control.protocol.RpcError` ``INVALID_PARAMS`` with a message that names
the parameter and what it allows: ``missing parameter 'coin' (a non-empty string)``,
``parameter 'limit' must be an integer from 1 to 5000, got 0``. What a field allows is its
``Meta(description=...)``, else it is read from the field's type. Unknown parameters are
ignored (a newer client may send more). Checks the type cannot express go in
``__post_init__`` and raise ``self.invalid(name)``. No I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar

import msgspec
from msgspec import Meta
from msgspec import inspect as mi

from candlewick.control.protocol import INVALID_PARAMS, RpcError

__all__ = ["NonEmpty", "Params", "allowed", "decode_params"]

#: A string of at least one character.
NonEmpty = Annotated[str, Meta(min_length=1)]

P = TypeVar("P", bound="Params")

_AT: Final = re.compile(r" - at `\$\.([A-Za-z_][A-Za-z0-9_]*)")
_MISSING: Final = re.compile(r"missing required field `([A-Za-z_][A-Za-z0-9_]*)`")


class Params(msgspec.Struct, kw_only=True):
    """The named parameters of one method (subclass it; fields are the parameters)."""

    def invalid(self, name: str) -> ValueError:
        """The error for field ``name`` holding a value it does not allow (raise it)."""
        return ValueError(_wrong(type(self), name, getattr(self, name)))


def decode_params(cls: type[P], raw: Mapping[str, Any]) -> P:
    """``raw`` (a request's ``params``) as ``cls``; raises ``RpcError(INVALID_PARAMS)``."""
    try:
        return msgspec.convert(raw, cls)
    except msgspec.ValidationError as exc:
        raise RpcError(INVALID_PARAMS, _message(cls, raw, str(exc))) from None


def allowed(cls: type[Params], name: str) -> str:
    """What field ``name`` of ``cls`` allows, in words (``"an integer from 1 to 500"``)."""
    return _fields(cls)[name]


def _message(cls: type[Params], raw: Mapping[str, Any], error: str) -> str:
    fields = _fields(cls)
    if (missing := _MISSING.search(error)) is not None:
        return _missing(cls, missing.group(1))
    at = _AT.search(error)
    if at is None or at.group(1) not in fields:
        return error  # a message of __post_init__, already in words
    name = at.group(1)
    value = raw.get(name)
    if value is None and _required(cls, name):
        return _missing(cls, name)
    return _wrong(cls, name, value)


def _missing(cls: type[Params], name: str) -> str:
    return f"missing parameter {name!r} ({allowed(cls, name)})"


def _wrong(cls: type[Params], name: str, value: object) -> str:
    return f"parameter {name!r} must be {allowed(cls, name)}, got {value!r}"


def _required(cls: type[Params], name: str) -> bool:
    return any(f.name == name and f.required for f in _info(cls).fields)


@functools.cache
def _info(cls: type[Params]) -> mi.StructType:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return info


@functools.cache
def _fields(cls: type[Params]) -> dict[str, str]:
    return {f.name: _describe(f.type) for f in _info(cls).fields}


def _describe(t: mi.Type) -> str:
    """A type in words; ``Meta(description=...)`` wins over what the type says."""
    if isinstance(t, mi.Metadata):
        described = (t.extra_json_schema or {}).get("description")
        return str(described) if described else _describe(t.type)
    if isinstance(t, mi.StrType):
        return "a non-empty string" if t.min_length else "a string"
    if isinstance(t, mi.IntType):
        return _int_range(t)
    if isinstance(t, mi.BoolType):
        return "true or false"
    if isinstance(t, mi.LiteralType):
        return "one of " + ", ".join(str(v) for v in t.values)
    if isinstance(t, mi.ListType):
        return f"a list, each {_describe(t.item_type)}"
    if isinstance(t, mi.UnionType):
        return " or ".join(_describe(u) for u in t.types if not isinstance(u, mi.NoneType))
    return "any value"


def _int_range(t: mi.IntType) -> str:
    low = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else None)
    high = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else None)
    if low is not None and high is not None:
        return f"an integer from {low} to {high}"
    if low == 1:
        return "a positive integer"
    if low is not None:
        return f"an integer of at least {low}"
    if high is not None:
        return f"an integer of at most {high}"
    return "an integer"
