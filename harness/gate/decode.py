"""Decode CloudFormation/SAM templates and workflows with line marks, without importing cfn-lint.

cfn-lint's decoder pulls in all of cfn-lint (sympy, networkx: ~450 ms) before the first
line is read. This one is PyYAML's C loader (``CSafeLoader`` when libyaml is there) with:

* the CloudFormation short forms (``!Ref``, ``!Sub``, ``!GetAtt A.B``, ``!If``, ...) turned
  into their ``Fn::`` mappings, exactly as cfn-lint does;
* every mapping, key and string carrying ``start_mark`` (0-based ``line``), so findings
  name the line of the element they are about;
* duplicate keys refused (YAML keeps the last one silently: a second ``Effect`` or
  ``Resource`` could hide what a reviewer reads first).

JSON templates go through the same loader (JSON is YAML here), so they get lines too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SHORT_FORMS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select", "Split",
            "Sub", "Transform", "And", "Equals", "If", "Not", "Or", "Length", "ToJsonString", "ForEach",
        )
    },
}  # fmt: skip


class DecodeError(ValueError):
    """Not a document the gate can read; ``line`` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class Str(str):
    start_mark: Any = None


class Map(dict[Any, Any]):
    start_mark: Any = None


class Seq(list[Any]):
    start_mark: Any = None


class _Constructor(_Loader):  # type: ignore[misc]
    pass


def _map(loader: Any, node: yaml.MappingNode) -> Map:
    out = Map()
    out.start_mark = node.start_mark
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, str):
            key = _str(key, key_node)
        try:
            duplicate = key in out
        except TypeError:
            raise DecodeError("a mapping key is not a scalar", key_node.start_mark.line + 1) from None
        if duplicate:
            raise DecodeError(f"duplicate key (str, {len(str(key))} chars)", key_node.start_mark.line + 1)
        out[key] = loader.construct_object(value_node, deep=True)
    return out


def _str(text: str, node: Any) -> Str:
    out = Str(text)
    out.start_mark = node.start_mark
    return out


def _scalar_str(loader: Any, node: yaml.ScalarNode) -> Str:
    return _str(loader.construct_scalar(node), node)


def _seq(loader: Any, node: yaml.SequenceNode) -> Seq:
    out = Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.start_mark = node.start_mark
    return out


def _short_form(loader: Any, suffix: str, node: Any) -> Map:
    name = SHORT_FORMS.get(suffix)
    if name is None:
        raise DecodeError(f"unknown tag !{suffix[:40]}", node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        value: Any = _scalar_str(loader, node)
        if name == "Fn::GetAtt":
            head, _, tail = value.partition(".")
            value = Seq([_str(head, node), _str(tail, node)])
    elif isinstance(node, yaml.SequenceNode):
        value = _seq(loader, node)
    else:
        value = _map(loader, node)
    out = Map({_str(name, node): value})
    out.start_mark = node.start_mark
    return out


_Constructor.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _map)
_Constructor.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _seq)
_Constructor.add_constructor("tag:yaml.org,2002:str", _scalar_str)
_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _scalar_str)  # Version: 2012-10-17 stays text
_Constructor.add_multi_constructor("!", _short_form)


def _shared(data: Any) -> bool:
    """Whether a container is reached twice (a YAML alias): walked once, iteratively."""
    seen: set[int] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict | list):
            if id(item) in seen:
                return True
            seen.add(id(item))
            stack.extend(item.values() if isinstance(item, dict) else item)
    return False


def loads(text: str, *, aliases: bool = True) -> Any:
    """Decode YAML or JSON text; :class:`DecodeError` (with the line) for anything malformed.

    ``aliases=False`` refuses YAML aliases (CloudFormation does not support them, and a
    shared subtree walked by the resolver could grow exponentially: the billion-laughs shape).
    """
    try:
        data = yaml.load(text, Loader=_Constructor)  # noqa: S506 - a SafeLoader subclass with CFN tags only
    except DecodeError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise DecodeError(f"not valid YAML/JSON: {exc.problem or 'syntax error'}", line) from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise DecodeError(f"not valid YAML/JSON ({type(exc).__name__})", 1) from None
    if not aliases and _shared(data):
        raise DecodeError("YAML aliases are not supported in templates", 1)
    return data


def load(path: Path, *, aliases: bool = True) -> Any:
    return loads(path.read_text(encoding="utf-8", errors="replace"), aliases=aliases)
