"""Plain type labels in ``--help``: ``TEXT``, ``N``, ``a|b|c``; nothing for flags.

Why: the help's type column showed Python annotations (``<bool>``, ``<str>``,
``<list[str]>``), which mean nothing to an analyst, and a flag needs no type
at all. Commands of a group built with :class:`PlainHelpGroup` get these
labels; choices (``--mode``) list their values.
"""

from __future__ import annotations

import types
from typing import Any

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


class PlainHelpGroup(TyperGroup):
    """A command group whose commands show plain type labels in their help."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return plain_types(super().get_command(ctx, cmd_name))

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)
        for p in params:
            _plain(p)
        return params
