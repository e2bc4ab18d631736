"""codec.to_data: what dataclasses.asdict gives (as JSON), and copies, without its deep copies."""

import json
from dataclasses import asdict, dataclass, field

from tuiexplore.lab.codec import to_data
from tuiexplore.timeline import StepEvent, to_wire


@dataclass(frozen=True)
class Inner:
    name: str
    mask: tuple[int, ...] = ()


@dataclass(frozen=True)
class Outer:
    rows: list[Inner]
    by_fd: dict[str, Inner]
    extra: dict[str, list[int]] = field(default_factory=dict)
    note: str | None = None


def test_nested_dataclasses_lists_and_dicts_come_out_as_asdict_does():
    obj = Outer([Inner("a", (1, 2))], {"fd3": Inner("b")}, {"k": [1, 2]})
    assert json.dumps(to_data(obj)) == json.dumps(asdict(obj))
    assert to_data(obj)["by_fd"]["fd3"] == {"name": "b", "mask": []}


def test_the_result_is_a_copy_the_event_does_not_change_with_it():
    ev = StepEvent(1.5, 3, "client", "write", {"fd": "c1", "data": [1, 2]}, 1, None, {})
    d = to_data(ev)
    d["args"]["data"].append(3)
    d["args"]["fd"] = "x"
    assert ev.args == {"fd": "c1", "data": [1, 2]}
    assert json.loads(to_wire(ev))["args"] == {"fd": "c1", "data": [1, 2]}
    assert ev.to_dict() == {"type": "step", **asdict(ev)}
