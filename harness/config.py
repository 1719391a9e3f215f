"""The one loader for YAML settings (scenarios, contracts, gate specs, snapshot configs, posture
policies, lane options): read the YAML, check it against a packaged JSON Schema, and name where it
is wrong in one style, ``<file>: <setting>: <what is wrong>`` with the setting written as a dotted
path (``options.offsite.bucket``, ``smoke[2].expect``) and a value shown only when it is plainly
not a secret (``harness.shapes``)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.schema_check import best_error, load_package_schema, package_validator
from harness.shapes import describe_schema_error, path_text, safe_literal


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
        location = path_text(error.absolute_path, root)
        hint = _did_you_mean(error)
        raise ConfigError(f"{where}: {location}: {describe_schema_error(error, show_values=True)}{hint}")


def _did_you_mean(error: Any) -> str:
    """For a misspelt setting name, the closest name the schema knows."""
    instance, schema = error.instance, error.schema
    if error.validator not in ("additionalProperties", "required") or not isinstance(instance, dict):
        return ""
    known = list(schema.get("properties", {})) if isinstance(schema, dict) else []
    for key in instance:
        if isinstance(key, str) and key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            if close:
                return f" (did you mean {close[0]!r} for {path_text([key])!r}?)"
    return ""


class StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key that repeats in one mapping (YAML says keys are unique;
    PyYAML would silently keep the last value)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: the base class says why
                break
            if repeated:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {safe_literal(key)} repeats in one mapping", mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, without the snippet of the document PyYAML quotes (it may hold a secret)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def parse_yaml(text: bytes | str, where: str) -> Any:
    """A YAML document parsed strictly (no repeated keys); ConfigError naming ``where`` and the line."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {_yaml_problem(exc)}") from None


def read_yaml(path: Path, what: str) -> tuple[Any, bytes]:
    """The parsed YAML document at ``path`` and its bytes; ConfigError naming ``what`` it should be."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    return parse_yaml(blob, str(path)), blob


def load_yaml(path: Path, schema: str, what: str) -> tuple[Any, bytes]:
    """:func:`read_yaml` then :func:`check` against ``schema``."""
    data, blob = read_yaml(path, what)
    check(data, schema, str(path))
    return data, blob
