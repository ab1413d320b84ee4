"""The stage registry: every Stage subclass that declares a `name`, found by that name.

Defining the class registers it (`Stage.__init_subclass__`). The registry discovers the
stages by importing every module of the `pipelines.stages` package (ingest included), so a
new stage is one new module in
`pipelines/stages/` and nothing else lists it: the recipe schema, the planner and the CLI all
read this registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.engine.stage import Stage

STAGE_PACKAGE = "pipelines.stages"

_registered: dict[str, type[Stage]] = {}
_discovered = False


def register(cls: type[Stage]) -> None:
    """Called on subclassing. A second class under a taken name is an error (two stages would
    answer to one recipe tag), except the same class defined again (a module re-imported)."""
    known = _registered.get(cls.name)
    if known is not None and _origin(known) != _origin(cls):
        raise TypeError(f"stage name {cls.name!r} is taken by {_origin(known)}; "
                        f"{_origin(cls)} needs another `name`")
    _registered[cls.name] = cls


def _origin(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def discover() -> None:
    """Import every stage module once (importing registers the classes they define)."""
    global _discovered
    if _discovered:
        return
    package = importlib.import_module(STAGE_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__, f"{STAGE_PACKAGE}."):
        importlib.import_module(module.name)
    _discovered = True


def stage_class(name: str) -> type[Stage]:
    discover()
    try:
        return _registered[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; known: {', '.join(sorted(_registered))}") from None


def recipe_stages() -> dict[str, type[Stage]]:
    """The stages a recipe's `stages:` may name, by name: those that read a config
    and have an options model. A stage fed explicit inputs (ingest) is a recipe `inputs:`
    entry instead, and a stage without options (a test's stand-in) is not offered."""
    discover()
    return {name: cls for name, cls in sorted(_registered.items())
            if cls.input_config is not None and cls.options_model is not None}
