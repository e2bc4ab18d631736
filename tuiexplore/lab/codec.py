"""The one serialiser for every pipe: typed dataclasses <-> JSON lines.

A message is ``{"kind": <class's KIND>, ...fields}``; nested dataclasses, lists, tuples and
optionals are rebuilt from the field types, so both ends handle typed objects only. Standard
library only (the actor process uses it).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from typing import Any

_FIELDS: dict[type, tuple[str, ...]] = {}  # a dataclass's field names: fields() is slow to ask each time


def to_data(obj: Any) -> Any:
    """Plain dicts and lists, as ``dataclasses.asdict`` gives, without its deep copies (a third of
    the time of a stepped program's every event, twice: once in each process)."""
    if isinstance(obj, (str, int, float, type(None))):
        return obj
    if isinstance(obj, (list, tuple)):
        return [to_data(x) for x in obj]
    if isinstance(obj, dict):
        return {k: to_data(v) for k, v in obj.items()}
    names = _FIELDS.get(type(obj))
    if names is None:
        if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
            return obj
        names = _FIELDS.setdefault(type(obj), tuple(f.name for f in dataclasses.fields(obj)))
    return {n: to_data(getattr(obj, n)) for n in names}


def from_data(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_data(inner[0], data) if len(inner) == 1 else data
    if origin is list:
        return [from_data(typing.get_args(tp)[0], x) for x in data]
    if origin is tuple:
        args = typing.get_args(tp)
        kinds = [args[0]] * len(data) if args[-1] is Ellipsis else args
        return tuple(from_data(a, x) for a, x in zip(kinds, data, strict=True))
    if origin is dict:
        return {k: from_data(typing.get_args(tp)[1], v) for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        return tp(**{f.name: from_data(hints[f.name], data[f.name]) for f in dataclasses.fields(tp) if f.name in data})
    return data


def _hints(cls: type) -> dict[str, Any]:
    cached = cls.__dict__.get("_wire_hints")
    if cached is None:
        cached = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
        type.__setattr__(cls, "_wire_hints", cached)
    return cached


def encode(msg: Any) -> str:
    return json.dumps({"kind": msg.KIND, **to_data(msg)})


def decoder(*classes: type[Any]) -> typing.Callable[[str | dict[str, Any]], Any]:
    """A decoder for the messages of one direction of one pipe."""
    by_kind = {c.KIND: c for c in classes}

    def decode(line: str | dict[str, Any]) -> Any:
        d = json.loads(line) if isinstance(line, str) else dict(line)
        return from_data(by_kind[d.pop("kind")], d)

    return decode
