"""Typed method params: decoding, the error messages, the method table, and the README table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest
from msgspec import Meta

from candlewick.control import protocol as p
from candlewick.control import schema
from candlewick.control.builtin import (
    BackfillCancelParams,
    BackfillStartParams,
    BuiltinMethods,
    CandlesRecentParams,
    ComponentParams,
    MarketParams,
)
from candlewick.control.dispatch import MethodTable, rpc, rpc_methods
from candlewick.control.params import NonEmpty, Params, allowed, decode_params
from candlewick.control.server_connection import SUBSCRIPTION_METHODS, SubscribeParams

README = Path(__file__).resolve().parents[3] / "README.md"


def message(cls: type[Params], raw: dict[str, Any]) -> str:
    with pytest.raises(p.RpcError) as info:
        decode_params(cls, raw)
    assert info.value.code == p.INVALID_PARAMS
    return info.value.message


@pytest.mark.parametrize(
    ("cls", "raw", "expected"),
    [
        (ComponentParams, {}, "missing parameter 'name' (the name of a component, as status lists them)"),
        (ComponentParams, {"name": None}, "missing parameter 'name'"),
        (ComponentParams, {"name": ""}, "parameter 'name' must be the name of a component"),
        (MarketParams, {"coin": "BTC", "interval": "7m"}, "parameter 'interval' must be one of 1m, 3m, 5m"),
        (MarketParams, {"coin": "BTC", "interval": "1m", "source": ""}, "parameter 'source' must be a non-empty"),
        (MarketParams, {"coin": 5, "interval": "1m"}, "parameter 'coin' must be a non-empty string, got 5"),
        (CandlesRecentParams, {"coin": "B", "interval": "1m", "limit": 0}, "must be an integer from 1 to 5000, got 0"),
        (CandlesRecentParams, {"coin": "B", "interval": "1m", "limit": 2.0}, "'limit' must be an integer from 1"),
        (BackfillStartParams, {"coin": "B", "intervals": []}, "'intervals' must be a non-empty list of intervals"),
        (BackfillStartParams, {"coin": "B", "intervals": "1m,2m"}, "got '1m,2m'"),
        (BackfillStartParams, {"coin": "B", "intervals": ["1m"], "days": 0}, 'a positive integer or "max", got 0'),
        (BackfillCancelParams, {}, "missing parameter 'id' (a job id from backfill.list)"),
        (BackfillCancelParams, {"id": True}, "parameter 'id' must be a job id from backfill.list, got True"),
    ],
)
def test_bad_params_name_the_parameter_and_what_it_allows(
    cls: type[Params], raw: dict[str, Any], expected: str
) -> None:
    assert expected in message(cls, raw)


def test_good_params_decode_with_defaults_and_friendly_forms() -> None:
    recent = decode_params(CandlesRecentParams, {"coin": "BTC", "interval": "1h", "unknown": "ignored"})
    assert (recent.coin, recent.interval, recent.limit) == ("BTC", "1h", 100)
    start = decode_params(BackfillStartParams, {"coin": "BTC", "intervals": " 1m, 1h "})
    assert (start.interval_list, start.days_back) == (["1m", "1h"], None)
    assert decode_params(BackfillStartParams, {"coin": "BTC", "intervals": ["1d"], "days": 3}).days_back == 3
    assert decode_params(BackfillCancelParams, {"id": 12}).id == 12
    assert decode_params(SubscribeParams, {"topics": "stats"}).topic_set == {"stats"}


def test_allowed_is_read_from_the_type_unless_described() -> None:
    class Sample(Params):
        name: NonEmpty
        count: Annotated[int, Meta(ge=2)] = 2
        ratio: Annotated[int, Meta(ge=0, le=9, description="a digit")] = 0
        flag: bool = False

    assert allowed(Sample, "name") == "a non-empty string"
    assert allowed(Sample, "count") == "an integer of at least 2"
    assert allowed(Sample, "ratio") == "a digit"
    assert allowed(Sample, "flag") == "true or false"


# -- the method table ------------------------------------------------------------------------


class Pinger:
    @rpc("ping", inline=True)
    async def ping(self, params: ComponentParams) -> str:
        return f"pong {params.name}"

    @rpc("noop")
    async def noop(self) -> None:
        return None

    async def helper(self) -> None:
        """Not marked: not a method."""


@pytest.mark.anyio
async def test_marked_methods_are_called_with_their_decoded_params() -> None:
    table = MethodTable()
    table.add_methods(Pinger())
    assert table.names() == ["noop", "ping"]
    assert (table.inline("ping"), table.inline("noop")) == (True, False)
    assert await table.call("ping", {"name": "feed"}) == "pong feed"
    assert await table.call("noop", {"anything": 1}) is None
    with pytest.raises(p.RpcError) as info:
        await table.call("ping", {})
    assert (info.value.code, info.value.message) == (
        p.INVALID_PARAMS,
        "missing parameter 'name' (the name of a component, as status lists them)",
    )


def test_a_method_taking_something_else_than_params_is_refused() -> None:
    class Wrong:
        @rpc("wrong")
        async def wrong(self, params: dict[str, Any]) -> None:
            return None

    with pytest.raises(TypeError, match="must take a Params struct"):
        MethodTable().add_methods(Wrong())


def test_a_name_defined_twice_is_refused() -> None:
    table = MethodTable()
    table.add_methods(Pinger())
    with pytest.raises(ValueError, match="defined twice"):
        table.add_methods(Pinger())


# -- the README ------------------------------------------------------------------------------


def _readme_rows(column: int = 2) -> dict[str, str]:
    """Method name -> params (or result) cell of the README's method table (``.stop`` rows expanded)."""
    text = README.read_text()
    table = text.split("| method | params | result |", 1)[1].split("\n\n", 1)[0]
    rows: dict[str, str] = {}
    for row in table.splitlines():
        cells = re.split(r"(?<!\\)\|", row)
        if len(cells) < 4 or not cells[1].strip().startswith("`"):
            continue
        base = ""
        for written in re.findall(r"`([^`]+)`", cells[1]):
            if not written.startswith("."):
                base = written.rsplit(".", 1)[0]
            rows[base + written if written.startswith(".") else written] = cells[column]
    hello = re.search(r"`hello \{([^}]*)\}`", text)
    assert hello is not None, "the README documents hello"
    rows["hello"] = hello.group(1)
    return rows


def test_the_readme_table_lists_every_method_and_its_params() -> None:
    rows = _readme_rows()
    methods = {mark.name: kind for _, mark, kind in rpc_methods(BuiltinMethods)}
    methods.update(dict.fromkeys(SUBSCRIPTION_METHODS, SubscribeParams))
    assert set(methods) == set(rows) - {"<plugin>.<method>"}
    for name, kind in methods.items():
        fields = kind.__struct_fields__ if kind is not None else ()
        for field in fields:
            assert re.search(rf"\b{field}\b", rows[name]), f"README: {name} does not list its parameter {field!r}"


def _wire_structs(cls: type[schema.Wire]) -> list[type[schema.Wire]]:
    """``cls`` and every schema struct inside it (open objects by the struct of their fixed keys)."""
    found = [cls]
    for field in msgspec.structs.fields(cls):
        inner = schema.OPEN.get((cls, field.name))
        if inner is None:
            inner = next((t for t in _types_in(field.type) if isinstance(t, type) and issubclass(t, schema.Wire)), None)
        if inner is not None and inner not in found:
            found.extend(s for s in _wire_structs(inner) if s not in found)
    return found


def _types_in(t: Any) -> list[Any]:
    return [t, *(inner for arg in getattr(t, "__args__", ()) for inner in _types_in(arg))]


def test_the_readme_table_names_every_result_field_of_the_schema() -> None:
    """Each result written as schema structs is documented key by key, nested objects too."""
    results = _readme_rows(column=3)
    for method, cls in schema.RESULTS.items():
        # "clock as in `status`": a cell may refer to another method's for the same objects
        cell = " ".join([results[method], *(results[m] for m in re.findall(r"as in `([a-z.]+)`", results[method]))])
        for struct in _wire_structs(cls):
            for field in struct.__struct_fields__:
                assert re.search(rf"\b{field}\b", cell), f"README: {method} does not name {struct.__name__}.{field}"


def test_the_readme_result_keys_are_the_schema_keys() -> None:
    """Every key the README writes in a schema-backed result (``name:`` or ``{name, ...}``) is a field."""
    results = _readme_rows(column=3)
    for method, cls in schema.RESULTS.items():
        known = {field for struct in _wire_structs(cls) for field in struct.__struct_fields__}
        written = re.findall(r"[{,]\s*([a-z_]+)\b(?!\|)", " ".join(re.findall(r"`([^`]+)`", results[method])))
        unknown = set(written) - known
        assert not unknown, f"README: {method} names {sorted(unknown)}, which the schema does not have"
