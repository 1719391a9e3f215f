"""Registry lines: ``"package.module:attribute"`` strings naming an extension, imported on first use so
one extension's dependencies never burden another."""

from __future__ import annotations

import importlib
from typing import Any


def load(target: str) -> Any:
    """The object a registry line names, importing its module now."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
