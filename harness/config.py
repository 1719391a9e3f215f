"""The one loader for YAML settings (scenarios, contracts, gate specs, snapshot configs, posture
policies, lane options): read the YAML, check it against a packaged JSON Schema, and name where it
is wrong in one style, ``<file>: <setting>: <what is wrong>`` with the setting written as a dotted
path (``options.offsite.bucket``, ``smoke[2].expect``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.schema_check import best_error, load_package_schema, package_validator


def setting_path(parts: Iterable[Any], root: str | None = None) -> str:
    """``root`` followed by ``parts`` as a dotted path with ``[i]`` for list items (``(top level)``
    when both are empty)."""
    text = root or ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def check(
    data: Any,
    schema: str,
    where: str,
    *,
    root: str | None = None,
    shared: tuple[str, ...] = (),
    ref: str | None = None,
) -> None:
    """Raise ConfigError naming ``where`` and the setting when ``data`` breaks the packaged
    ``schema`` (whose ``$ref``s may name the ``shared`` schemas); ``ref`` checks against one
    ``$defs`` entry of it instead (e.g. a posture policy on its own); ``root`` is the key the data
    sits under in its file (``options``)."""
    validator: Any = package_validator(schema, shared)
    if ref is not None:
        defs = load_package_schema(schema)["$defs"]
        validator = validator.evolve(schema={"$ref": f"#/$defs/{ref}", "$defs": defs})
    error = best_error(validator, data)
    if error is not None:
        raise ConfigError(f"{where}: {setting_path(error.absolute_path, root)}: {error.message}")


def read_yaml(path: Path, what: str) -> tuple[Any, bytes]:
    """The parsed YAML document at ``path`` and its bytes; ConfigError naming ``what`` it should be."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(blob), blob
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_yaml(path: Path, schema: str, what: str) -> tuple[Any, bytes]:
    """:func:`read_yaml` then :func:`check` against ``schema``."""
    data, blob = read_yaml(path, what)
    check(data, schema, str(path))
    return data, blob
