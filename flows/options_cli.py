"""A command's flags generated from its pydantic options model, and the parsed flags turned back.

The options model is the one place a setting is declared. A field gives its flag's name
(`min_area` -> `--min-area`), default, help (the field's `description`), choices (a `Literal`)
and kind (a bool is a `--x/--no-x` switch). What the model cannot say by itself is declared on
the field with `json_schema_extra`:

  flag   the flag's name(s) where they differ from the field's (`"--divide"`, or
         `["--format", "-f"]`). A nested model's field (MineOptions.sam.model) is on the command
         line only with a declared flag. `"--no-x"` on a bool that defaults to True is that one
         switch, which sets the field False. Several fields may declare the same flag and then
         all take its value (describe's `model_batch_size` is the stage's `--batch-size`).
  cli    False keeps a field off the command line (a value the planner pins, for example).
  parse  how the flag's text becomes the value: "comma_list" (`root,subtree` -> a list) or
         "json_file" (a path whose JSON object is the value).

`model_command` registers a command whose flags come from a model; the command function keeps
its own arguments (the dataset DIR, options that are not settings) and receives the validated
model as `options`. `stage_command` adds `--batch-size`, defaulting to the stage class's
`default_batch_size`. A value the model refuses is one line naming the flag, exit 2.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from flows.commands.common import fail

PARSERS = ("comma_list", "json_file")
BATCH_SIZE = "--batch-size"


@dataclass
class Flag:
    """One command-line flag and the model field(s) it sets."""

    names: tuple[str, ...]  # "--min-area" first, then aliases ("-f")
    paths: list[tuple[str, ...]]  # ("min_area",) or ("unsamv2", "divide"); several when shared
    param: str  # the Python parameter name typer sees
    kind: Any  # the type typer parses the text to
    default: Any
    help: str
    switch: bool = False  # a `--x/--no-x` pair
    inverted: bool = False  # a lone `--no-x` switch: given -> the field is False
    parse: str | None = None
    declared: bool = False  # the name is declared on the field (and may be shared)
    shown_default: str | None = None  # help's default where the flag's own is None

    @property
    def name(self) -> str:
        return self.names[0]

    def parameter(self) -> inspect.Parameter:
        option = typer.Option(
            *self._declarations(), help=self.help,
            show_default=self.shown_default if self.shown_default is not None else True)
        default = ... if self.default is PydanticUndefined else self.default
        kind = self.kind if default is ... or default is not None else self.kind | None
        return inspect.Parameter(self.param, inspect.Parameter.KEYWORD_ONLY,
                                 default=default, annotation=Annotated[kind, option])

    def _declarations(self) -> tuple[str, ...]:
        if self.switch:
            return (f"{self.name}/--no-{self.name[2:]}", *self.names[1:])
        return self.names

    def value(self, given: Any) -> Any:
        """The field value from what the flag parsed to (None: leave the model's default)."""
        if self.inverted:
            return not given
        if given is None or self.parse is None:
            return given
        if self.parse == "comma_list":  # an empty list is no choice at all: the default
            return [item.strip() for item in given.split(",") if item.strip()] or None
        try:  # json_file
            return json.loads(Path(given).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"{self.name} {given}: not a readable JSON object ({exc})")


def model_flags(model: type[BaseModel]) -> list[Flag]:
    """Every flag of `model`, in field order; shared flags once."""
    flags: dict[str, Flag] = {}
    for path, field in _fields(model, ()):
        flag = _flag_of(model, path, field)
        if flag is None:
            continue
        if flag.name in flags:
            if not _declared_flag(field):
                raise TypeError(f"{model.__name__}.{'.'.join(path)}: flag {flag.name} is taken; "
                                "declare the flag on the field to share it")
            flags[flag.name].paths.append(path)
        else:
            flags[flag.name] = flag
    return list(flags.values())


def _fields(model: type[BaseModel], prefix: tuple[str, ...]):
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            # a nested model's fields are flags only where declared (their names repeat:
            # sam.device, unsamv2.device)
            yield from ((p, f) for p, f in _fields(field.annotation, path) if _declared_flag(f))
        else:
            yield path, field


def _extra(field: FieldInfo) -> dict:
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}


def _declared_flag(field: FieldInfo) -> tuple[str, ...] | None:
    flag = _extra(field).get("flag")
    return (flag,) if isinstance(flag, str) else tuple(flag) if flag else None


def _flag_of(model: type[BaseModel], path: tuple[str, ...], field: FieldInfo) -> Flag | None:
    extra = _extra(field)
    if extra.get("cli") is False:
        return None
    names = _declared_flag(field) or ("--" + path[-1].replace("_", "-"),)
    kind, optional = _unwrap_optional(field.annotation)
    default = field.get_default(call_default_factory=True) if not field.is_required() else PydanticUndefined
    flag = Flag(names=names, paths=[path], param="_".join(path), kind=kind, default=default,
                help=field.description or "", parse=extra.get("parse"),
                declared=_declared_flag(field) is not None)
    if flag.parse is not None:
        if flag.parse not in PARSERS:
            raise TypeError(f"{model.__name__}.{'.'.join(path)}: parse must be one of {PARSERS}")
        flag.kind = Path if flag.parse == "json_file" else str
        flag.shown_default = _shown(default)
        flag.default = None  # not given: the model's default
    elif typing.get_origin(kind) is Literal:
        pass  # typer makes a Literal a choice
    elif kind is bool:
        flag.inverted = names[0].startswith("--no-") and default is True
        flag.switch = not flag.inverted
        flag.default = False if flag.inverted else default
    elif kind not in (int, float, str, Path):
        raise TypeError(f"{model.__name__}.{'.'.join(path)}: a {kind} field needs "
                        f"json_schema_extra parse ({', '.join(PARSERS)}) or cli=False")
    if optional and flag.default is PydanticUndefined:
        flag.default = None
    return flag


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _shown(default: Any) -> str:
    if default is None or default is PydanticUndefined:
        return ""
    return ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)


def options_from_flags(model: type[BaseModel], flags: list[Flag], given: dict[str, Any]) -> BaseModel:
    """The validated options model from parsed flag values; a refused value exits 2 naming its flag."""
    values: dict[str, Any] = {}
    for flag in flags:
        value = flag.value(given[flag.param])
        if value is None and flag.default is None:
            continue  # not given: the model's default
        for path in flag.paths:
            target = values
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
    try:
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        flag = _flag_at(flags, tuple(error["loc"]))
        if flag is None:  # a rule across fields (e.g. the clip verifier needs a model)
            fail(error["msg"].removeprefix("Value error, "))
        shown = given.get(flag.param, error.get("input"))
        fail(f"{flag.name} {str(shown) if isinstance(shown, Path) else repr(shown)}: {error['msg']}")


def _flag_at(flags: list[Flag], loc: tuple) -> Flag | None:
    """The flag whose field holds the error's location (a list item's error names its field)."""
    for size in range(len(loc), 0, -1):
        for flag in flags:
            if loc[:size] in flag.paths:
                return flag
    return None


def model_command(app: typer.Typer, name: str, model: type[BaseModel],
                  extra_flags: list[Flag] = ()) -> Callable[[Callable], Callable]:
    """Register the decorated function as command `name` with `model`'s flags.

    The function takes its own parameters (typer-annotated, as usual) plus `options`, the
    validated model, and one keyword per flag of `extra_flags` (e.g. `batch_size`)."""
    shared = {f.name: f for f in extra_flags}
    flags = list(extra_flags)
    for flag in model_flags(model):
        if flag.name not in shared:
            flags.append(flag)
        elif flag.declared:  # a field declaring the command's flag takes its value
            shared[flag.name].paths.extend(flag.paths)
            shared[flag.name].help += f"; also {flag.help}" if flag.help else ""
        else:
            raise TypeError(f"segcap {name}: {model.__name__} field {'.'.join(flag.paths[0])} "
                            f"would be {flag.name}, the command's own; declare the flag to share it")

    def decorate(function: Callable) -> Callable:
        own = [p for p in inspect.signature(function, eval_str=True).parameters.values()
               if p.name != "options" and p.name not in {e.param for e in extra_flags}]
        taken = {p.name for p in own}
        clash = [f.name for f in flags if f.param in taken]
        if clash:
            raise TypeError(f"segcap {name}: {clash} are both the command's and its model's")

        def command(**given: Any) -> Any:
            own_values = {p.name: given.pop(p.name) for p in own}
            options = options_from_flags(model, [f for f in flags if f.paths], given)
            extras = {e.param: given[e.param] for e in extra_flags}
            return function(**own_values, **extras, options=options)

        command.__name__ = function.__name__
        command.__doc__ = function.__doc__
        command.__signature__ = inspect.Signature(
            [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
            + [f.parameter() for f in flags])
        app.command(name)(command)
        return function

    return decorate


def stage_command(app: typer.Typer, name: str, stage_class: type) -> Callable[[Callable], Callable]:
    """`model_command` for a stage: its options model's flags plus `--batch-size`, defaulting to
    the stage class's `default_batch_size`."""
    batch_size = Flag(names=(BATCH_SIZE,), paths=[], param="batch_size", kind=int,
                      default=stage_class.default_batch_size,
                      help=f"rows of `{stage_class.input_config}` per batch")
    return model_command(app, name, stage_class.options_model, [batch_size])
