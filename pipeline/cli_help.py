"""The CLI's presentation helpers: plain ``--help`` types, lazy subgroups, text fitting.

Plain types: the help's type column showed Python annotations (``<bool>``,
``<str>``, ``<list[str]>``), which mean nothing to an analyst, and a flag
needs no type at all. Commands of a group built with :class:`PlainHelpGroup`
get ``TEXT``, ``N``, ``PATH``; choices (``--mode``) list their values.

Lazy subgroups: a subgroup named in ``PlainHelpGroup.lazy`` is imported only
when it is run or its own help is asked for, so ``newswatch --help`` and the
other commands do not pay for it.

Text fitting: cells cut to at most two lines, with "…" when cut.
"""

from __future__ import annotations

import importlib
import textwrap
import types
from typing import Any, ClassVar

from typer.core import TyperGroup


def plain_label(param: Any) -> str | None:
    """The label a person reads for one parameter (None: show nothing)."""
    if getattr(param, "is_flag", False) or param.name == "help":
        return None
    desc = getattr(param, "type_descriptor", None)
    if desc is not None and desc.is_choice and desc.choices:
        return "|".join(str(c) for c in desc.choices)
    annotation = getattr(desc, "annotation", None)
    args = getattr(annotation, "__args__", None)
    if desc is not None and desc.is_list and args:
        annotation = args[0]
    if desc is not None and desc.is_path:
        return "PATH"
    if annotation is bool:
        return None
    if annotation is int:
        return "N"
    if annotation is float:
        return "NUM"
    return "TEXT"


def _plain(param: Any) -> None:
    label = plain_label(param)
    param.display_type_rich = types.MethodType(lambda self, ctx: label, param)
    param.display_type = types.MethodType(lambda self, ctx: label or "", param)


def plain_types(command: Any) -> Any:
    """Plain labels on a command's parameters, --help included (added per context)."""
    if command is None or getattr(command, "_plain_types", False):
        return command
    for param in getattr(command, "params", []):
        _plain(param)
    original = command.get_params

    def get_params(ctx: Any) -> Any:
        params = original(ctx)
        for p in params:
            _plain(p)
        return params

    command.get_params = get_params
    command._plain_types = True
    return command


class LazyGroup(TyperGroup):
    """A stand-in for a subgroup: its name and help now, the group itself on first use."""

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(name=name, help=help)
        self._target = target  # "module:typer_app"
        self._real: Any = None

    def load(self) -> Any:
        if self._real is None:
            import typer.main

            module, attr = self._target.split(":")
            real = typer.main.get_command(getattr(importlib.import_module(module), attr))
            real.name = self.name
            self._real = plain_types(real)
        return self._real

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        return self.load().invoke(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return self.load().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.load().list_commands(ctx))


class PlainHelpGroup(TyperGroup):
    """A command group whose commands show plain type labels in their help.

    ``lazy`` maps a subgroup name to ("module:typer_app", one-line help).
    """

    lazy: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = {
            name: LazyGroup(name, target, help) for name, (target, help) in self.lazy.items()
        }

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(super().list_commands(ctx))
        return names + [n for n in self._lazy if n not in names]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self._lazy:
            return self._lazy[cmd_name]
        return plain_types(super().get_command(ctx, cmd_name))

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)
        for p in params:
            _plain(p)
        return params


# ---------------------------------------------------------------- text fitting
def shorten(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, cut between words, with "…" when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: max(1, limit - 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def lines_of(text: str, width: int, lines: int = 2) -> str:
    """``text`` wrapped to ``width`` in at most ``lines`` lines, ending in "…" when cut."""
    flat = " ".join(text.split())
    wrapped = textwrap.wrap(flat, width, break_long_words=True) or [""]
    if len(wrapped) <= lines:
        return "\n".join(wrapped)
    kept = wrapped[:lines]
    last = kept[-1]
    if len(last) >= width:
        last = last[: width - 1].rstrip()
    kept[-1] = last + "…"
    return "\n".join(kept)


def human(value: Any) -> str:
    """A value as a person reads it: no Python reprs ([] / None / True)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(human(v) for v in value) if value else "none"
    return str(value)
