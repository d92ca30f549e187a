"""The ``@tool`` decorator: a typed function becomes a ``ToolSpec``.

The input model is built from the signature, the output model from the return annotation
and the description from the docstring, so schemas cannot drift from the code. Tools never
check permissions or approvals; the executor is the one checkpoint.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from copilot.domain import Risk
from copilot.errors import InvalidInput, ToolTimeout, describe_validation_error

T = TypeVar("T")


class StateStore(Protocol):
    """Versioned JSON documents a tool pack keeps in the store (the sandbox's world)."""

    def load(self, name: str) -> tuple[dict[str, Any], int] | None: ...

    def save(self, name: str, doc: dict[str, Any], expected_version: int | None) -> int: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ToolContext:
    """What a tool may use besides its arguments. Declared as a parameter, it is injected."""

    state: StateStore
    settings: Any = None
    principal: str | None = None
    approval_id: str | None = None
    clock: Callable[[], datetime] = _utcnow
    extras: dict[str, Any] = field(default_factory=dict)


Resource = str | Callable[[Any], str] | None
PlanFn = Callable[[ToolContext, Any], str]


@dataclass(frozen=True)
class ToolSpec:
    """Everything the registry, policy and executor need to know about one tool."""

    name: str
    pack: str
    description: str
    risk: Risk
    side_effects: bool
    idempotent: bool
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    timeout_s: float
    resource_template: Resource = None
    plan_fn: PlanFn | None = None
    # Phrases people use for this tool that its name and description lack ("bounce", "kick
    # the pods"), as StackStorm's action aliases: the offline planner matches them too.
    aliases: tuple[str, ...] = ()
    _func: Callable[..., Any] | None = None
    _context_param: str | None = None
    _wraps_output: bool = False

    def validate(self, arguments: dict[str, Any]) -> BaseModel:
        """Validate raw arguments, or raise ``InvalidInput`` naming each bad field."""
        try:
            return self.input_model.model_validate(arguments)
        except ValidationError as exc:
            raise InvalidInput(
                f"invalid arguments for {self.name}: {describe_validation_error(exc)}",
                f"see `copilot tools show {self.name}` for the expected arguments",
            ) from None

    def resource(self, args: BaseModel) -> str | None:
        """The lock key this call writes to, derived from its arguments (None: no lock)."""
        if self.resource_template is None:
            return None
        if callable(self.resource_template):
            return self.resource_template(args)
        return self.resource_template.format(**args.model_dump())

    def plan(self, ctx: ToolContext, args: BaseModel) -> str | None:
        """A human-readable preview of the change (dry run); None if the tool has none."""
        return None if self.plan_fn is None else self.plan_fn(ctx, args)

    def run_unchecked(self, ctx: ToolContext, args: BaseModel) -> BaseModel:
        """Call the function. Only the executor may call this: it is the one door."""
        assert self._func is not None
        kwargs = {k: getattr(args, k) for k in type(args).model_fields}
        if self._context_param:
            kwargs[self._context_param] = ctx
        out = self._func(**kwargs)
        if self._wraps_output:
            return self.output_model(value=out)
        if not isinstance(out, self.output_model):
            return self.output_model.model_validate(out)
        return out

    def in_pack(self, pack: str) -> ToolSpec:
        """This tool as a member of ``pack`` (the registry binds each declared tool to the
        name its pack is registered under, which wins over the one the decorator guessed)."""
        if pack == self.pack:
            return self
        short = self.name.split(".", 1)[-1]
        return dataclasses.replace(self, name=f"{pack}.{short}", pack=pack)

    def schema(self) -> dict[str, Any]:
        """JSON schema of the input, as shown to people and to the model (a fresh copy:
        building it costs ~1 ms per tool, and the agent shows every tool on every round)."""
        return copy.deepcopy(_json_schema(self.input_model))


@functools.cache
def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def tool(
    *,
    risk: Risk | str,
    side_effects: bool | None = None,
    idempotent: bool | None = None,
    resource: Resource = None,
    plan: PlanFn | None = None,
    timeout_s: float = 30.0,
    name: str | None = None,
    pack: str | None = None,
    aliases: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], ToolSpec]:
    """Declare a typed function as a tool. Reads default to no side effects and idempotent.
    ``aliases``: phrases people use for it ("bounce the pods"), matched by the offline
    planner besides the tool's name and description."""
    risk = Risk(risk)
    if isinstance(aliases, str) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise TypeError("aliases must be a tuple of non-empty phrases")

    def decorate(func: Callable[..., Any]) -> ToolSpec:
        hints = get_type_hints(func, include_extras=True)
        sig = inspect.signature(func)
        fields: dict[str, Any] = {}
        ctx_param = None
        for pname, param in sig.parameters.items():
            ann = hints.get(pname, Any)
            if ann is ToolContext:
                ctx_param = pname
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (ann, default)
        camel = "".join(p.capitalize() for p in func.__name__.split("_"))
        input_model = create_model(f"{camel}Input", __config__=ConfigDict(extra="forbid"), **fields)
        ret = hints.get("return")
        output_model: type[BaseModel]
        if isinstance(ret, type) and issubclass(ret, BaseModel):
            output_model, wraps = ret, False
        else:
            value_type = ret if ret is not None else Any
            output_model, wraps = create_model(f"{camel}Output", value=(value_type, ...)), True
        doc = inspect.getdoc(func) or ""
        description = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
        if not description:
            raise TypeError(f"tool {func.__name__} needs a docstring: it is its description")
        pack_name = pack or _pack_of(func)
        return ToolSpec(
            name=f"{pack_name}.{name or func.__name__}",
            pack=pack_name,
            description=description,
            risk=risk,
            side_effects=(risk is not Risk.READ) if side_effects is None else side_effects,
            idempotent=(risk is Risk.READ) if idempotent is None else idempotent,
            input_model=input_model,
            output_model=output_model,
            timeout_s=timeout_s,
            resource_template=resource,
            plan_fn=plan,
            aliases=tuple(a.strip() for a in aliases),
            _func=func,
            _context_param=ctx_param,
            _wraps_output=wraps,
        )

    return decorate


def _pack_of(func: Callable[..., Any]) -> str:
    """The pack a function's tool belongs to: the package its module sits in
    (``copilot_tools.sandbox.changes`` -> ``sandbox``), or the module itself when it stands
    alone (a single-file pack). The registry binds it to the registered name in the end."""
    package = getattr(func, "__globals__", {}).get("__package__") or func.__module__
    return str(package).rsplit(".", 1)[-1]


def run_with_timeout(fn: Callable[[], T], timeout_s: float) -> T:
    """Run ``fn`` in a daemon thread; raise ``ToolTimeout`` if it does not return in time.

    Python cannot kill a thread, so a timed-out call may still finish later: that is exactly
    why a timed-out run is recorded as *unknown* and keeps its lock until its lease ends.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True, name="copilot-tool")
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        raise ToolTimeout(f"tool did not finish within {timeout_s:g}s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value
