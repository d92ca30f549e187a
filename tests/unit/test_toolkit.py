"""The @tool decorator and registry: schemas from signatures, discovery, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from copilot import ToolContext, tool
from copilot.canonical import canonical_json
from copilot.domain import Risk
from copilot.errors import ConfigError, InvalidInput
from copilot.toolkit.registry import Registry, discover


class Out(BaseModel):
    replicas: int


@tool(risk="medium", resource="svc/{service}", plan=lambda ctx, a: f"{a.service} → {a.replicas}")
def scale(ctx: ToolContext, service: str, replicas: Annotated[int, Field(ge=0, le=50)]) -> Out:
    """Scale a service.

    Longer text that is not part of the description.
    """
    return Out(replicas=replicas)


@tool(risk="read")
def count(items: list[str]) -> int:
    """Count items."""
    return len(items)


def test_spec_from_signature():
    assert scale.name == "test_toolkit.scale" and scale.risk is Risk.MEDIUM
    assert scale.description == "Scale a service."
    assert scale.side_effects and not scale.idempotent
    schema = scale.schema()
    assert set(schema["properties"]) == {"service", "replicas"}  # ctx is injected, not an argument
    assert schema["properties"]["replicas"]["maximum"] == 50
    assert count.idempotent and not count.side_effects


def test_validation_names_each_field():
    with pytest.raises(InvalidInput) as err:
        scale.validate({"replicas": 99, "colour": "red"})
    msg = err.value.message
    assert (
        "service: required" in msg and "replicas: Input should be less than or equal to 50" in msg
    )
    assert "colour: unknown argument" in msg


def test_resource_plan_and_non_model_output():
    args = scale.validate({"service": "checkout", "replicas": "3"})
    assert scale.resource(args) == "svc/checkout"
    ctx = ToolContext(state=None)  # type: ignore[arg-type]
    assert scale.plan(ctx, args) == "checkout → 3"
    assert count.run_unchecked(ctx, count.validate({"items": ["a", "b"]})).model_dump() == {
        "value": 2
    }


def test_docstring_is_required():
    with pytest.raises(TypeError, match="docstring"):
        tool(risk="read")(lambda: None)


def test_registry_lookup_and_suggestions():
    reg = Registry([scale, count])
    assert reg.get("scale") is scale and reg.get("test_toolkit.count") is count
    with pytest.raises(InvalidInput, match="unknown tool") as err:
        reg.get("test_toolkit.scael")
    assert err.value.hint.startswith("did you mean test_toolkit.scale")


def test_extra_tool_paths_are_discovered(tmp_path: Path):
    pack = tmp_path / "ops.py"
    pack.write_text(
        'from copilot import tool\n\n@tool(risk="read")\ndef ping() -> str:\n'
        '    """Ping."""\n    return "pong"\n\nTOOLS = [ping]\n'
    )
    reg = discover([tmp_path])
    assert "ops.ping" in {s.name for s in reg}


def test_broken_pack_refuses_start(tmp_path: Path):
    (tmp_path / "bad.py").write_text("import does_not_exist\n")
    with pytest.raises(ConfigError, match=r"bad\.py failed to import"):
        discover([tmp_path])


keys = st.text(max_size=6)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.text(max_size=12)
    | st.floats(allow_nan=False, allow_infinity=False)
)
trees = st.recursive(
    leaves, lambda c: st.lists(c, max_size=3) | st.dictionaries(keys, c, max_size=3), max_leaves=15
)


@settings(max_examples=400)
@given(trees)
def test_canonical_json_matches_rfc8785(value):
    import rfc8785

    try:
        expected = rfc8785.dumps(value)
    except Exception:
        with pytest.raises(Exception):  # noqa: B017 - both must refuse the same inputs
            canonical_json(value)
        return
    assert canonical_json(value) == expected
