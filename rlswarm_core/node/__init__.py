"""One node: the engine that runs rounds and stages, its typed events, the journal that keeps them, the
view and metrics built from them, and the runtime that wires it all (:func:`run_node`)."""

from __future__ import annotations

from typing import Any

_RUNTIME_NAMES = ("NodeRequest", "NodeRuntime", "run_node", "LoginRequired")
_RENDERER_NAMES = ("NodeRenderer", "LineRenderer")


def __getattr__(name: str) -> Any:
    # lazily, so that importing a submodule (the journal, the view) stays light
    if name in _RUNTIME_NAMES:
        from rlswarm_core.node import runtime

        return getattr(runtime, name)
    if name in _RENDERER_NAMES:
        from rlswarm_core.node import renderer

        return getattr(renderer, name)
    raise AttributeError(name)


__all__ = [*_RUNTIME_NAMES, *_RENDERER_NAMES]
