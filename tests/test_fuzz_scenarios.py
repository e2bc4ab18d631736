"""The scenario reader under fuzzing: random TOML documents and random mutations of the built-in
scenarios. Every input either loads or raises ScenarioError (which the CLI turns into one line
and exit 2); nothing else escapes. A scenario that loads is also one every step of which passes
the lab's own argument check, so the validator and complete_args cannot drift apart."""

from __future__ import annotations

import math
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuiexplore.lab.calls import CALLS, EPOLL_BITS, SOCKOPTS, complete_args
from tuiexplore.scenarios.scenario import ScenarioError, _catalog, builtin_names, parse

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BUILTINS = {name: (_catalog() / f"{name}.toml").read_text() for name in builtin_names()}

# Values and keys drawn from the format's own vocabulary as well as at random, so that a good share
# of the documents get deep into validation instead of failing on the first key.
WORDS = sorted(
    {"title", "summary", "port", "step", "expect", "actor", "call", "say", "as", "server", "client", "c", "l", "?"}
    | set(CALLS)
    | {a.name for c in CALLS.values() for a in c.args}
    | set(SOCKOPTS)
    | set(EPOLL_BITS)
    | {"SHUT_WR", "SHUT_RDWR", "AF_UNSPEC", "ADD", "FIN", "RST", "none", "client R.", "server S."}
)
scalars = st.one_of(
    st.sampled_from(WORDS),
    st.text(max_size=12),
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
    st.sampled_from([0, 1, -1, 65535, 65536, 1 << 31, 1 << 40]),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
)
keys = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=8))
values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)), max_leaves=12
)


def toml_string(v: str) -> str:
    """A TOML basic string for any text: quotes, backslashes and control characters escaped."""
    return (
        '"' + "".join(f"\\{c}" if c in '"\\' else f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in v) + '"'
    )


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A TOML document shaped like a scenario: top-level keys, then [[step]] and [[expect]] tables."""
    top = draw(st.dictionaries(st.sampled_from(["title", "summary", "port"]), values, max_size=3))
    if draw(st.integers(0, 9)) == 0:  # now and then a key the format does not have
        top.update(draw(st.dictionaries(keys, values, max_size=1)))
    if draw(st.booleans()):
        top.setdefault("title", draw(st.text(max_size=20)))
    lines = [f"{toml_string(k)} = {toml_value(v)}" for k, v in top.items()]
    for table in draw(st.lists(st.sampled_from(["step", "expect", "other"]), max_size=6)):
        lines.append(f"[[{table}]]")
        lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in draw(st.dictionaries(keys, values, max_size=5)).items()]
    return "\n".join(lines) + "\n"


def loads_or_input_error(text: str) -> None:
    try:
        scn = parse(text, "fuzz.toml", "fuzz")
    except ScenarioError as exc:
        msg = str(exc)
        assert msg.startswith("fuzz.toml") and "\n" not in msg and msg.isprintable(), msg
        return
    for s in scn.steps:
        complete_args(s.call, s.args, 4000)  # what the lab is sent: within the kernel's limits


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text):
    loads_or_input_error(text)


@FUZZ
@given(documents())
def test_random_toml_documents(text):
    loads_or_input_error(text)


@st.composite
def mutated_builtins(draw: st.DrawFn) -> str:
    lines = BUILTINS[draw(st.sampled_from(sorted(BUILTINS)))].splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["drop", "dup", "value", "key", "char", "nest", "cut"]))
        line = lines[i]
        if kind == "drop":
            del lines[i]
        elif kind == "dup":
            lines.insert(i, line)
        elif kind == "value" and "=" in line:
            lines[i] = line.split("=", 1)[0] + "= " + toml_value(draw(values))
        elif kind == "key" and "=" in line:
            lines[i] = toml_string(draw(keys)) + " =" + line.split("=", 1)[1]
        elif kind == "char":
            j = draw(st.integers(0, len(line)))
            lines[i] = line[:j] + draw(st.text(min_size=1, max_size=3)) + line[j:]
        elif kind == "nest" and "=" in line:
            depth = draw(st.integers(1, 400))
            lines[i] = line.split("=", 1)[0] + "= " + "[" * depth + "1" + "]" * depth
        elif kind == "cut":
            lines = lines[: i + 1]
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


@FUZZ
@given(mutated_builtins())
def test_mutated_builtins(text):
    loads_or_input_error(text)


def toml_document(data: dict) -> str:
    tables = {
        k: v for k, v in data.items() if k in ("step", "expect") and isinstance(v, list) and all(isinstance(t, dict) for t in v)
    }
    lines = [f"{toml_string(k)} = {toml_value(v)}" for k, v in data.items() if k not in tables]
    for name, items in tables.items():
        for t in items:
            lines += [f"[[{name}]]", *(f"{toml_string(k)} = {toml_value(v)}" for k, v in t.items())]
    return "\n".join(lines) + "\n"


@st.composite
def retyped_builtins(draw: st.DrawFn) -> str:
    """A built-in with fields given values of other types and ranges, or removed, or added: each
    mutation picks the top level, a step or an expectation alike, so every field gets its turn."""
    data = tomllib.loads(BUILTINS[draw(st.sampled_from(sorted(BUILTINS)))])
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "step", "expect"]))
        items = data.get(where)
        if where != "top" and not (isinstance(items, list) and items):
            continue
        table = data if where == "top" else draw(st.sampled_from(items))
        if not isinstance(table, dict):
            continue
        action = draw(st.sampled_from(["retype", "retype", "drop", "add"]))
        key = draw(st.sampled_from(sorted(table))) if table and action != "add" else draw(keys)
        if action == "drop":
            table.pop(key, None)
        else:
            table[key] = draw(values)
    return toml_document(data)


@FUZZ
@given(retyped_builtins())
def test_retyped_builtins(text):
    loads_or_input_error(text)


def test_every_builtin_loads():
    for name, text in BUILTINS.items():
        loads_or_input_error(text)
        assert parse(text, f"{name}.toml", name).steps
