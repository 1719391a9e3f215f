"""Terraform modules (python-hcl2) as templates the posture rules already understand.

Each module directory (its ``*.tf`` files, and the local modules it calls) is parsed with
python-hcl2 (8.x: the rule tree keeps line numbers), its values are evaluated — literals,
``var.*`` from defaults or the module call, ``local.*``, ``"${...}"`` interpolation,
``jsonencode({...})``, references to other resources — and the backup-relevant resources
are translated into the CloudFormation shapes the posture family checks. So the same rules
(S3001-S3006, DB001-DB007, SCHED001/003) run with the same finding format, pointing at
the ``.tf`` file and line of the attribute (or block) concerned. Anything the evaluator
cannot know (a variable without default, a conditional, another function) becomes a
``{{unresolved:...}}`` placeholder, which never satisfies a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.gate.templates import placeholder

_REF_ATTRS = {"id", "name", "bucket", "arn"}


@dataclass
class Block:
    kind: str
    labels: list[str]
    file: Path
    line: int
    attrs: dict[str, tuple[Any, int]] = field(default_factory=dict)  # name -> (serialized value, line)
    blocks: list[Block] = field(default_factory=list)

    def children(self, kind: str) -> list[Block]:
        return [b for b in self.blocks if b.kind == kind]


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _to_block(rule: Any, file: Path) -> Block:
    from hcl2.rules.base import AttributeRule, BlockRule

    labels = [_unquote(str(label.serialize())) for label in rule.labels]
    block = Block(labels[0], labels[1:], file, int(rule._meta.line))
    for child in rule.body.children:
        if isinstance(child, AttributeRule):
            block.attrs[str(child.identifier.serialize())] = (
                child.expression.serialize(),
                int(child._meta.line),
            )
        elif isinstance(child, BlockRule):
            block.blocks.append(_to_block(child, file))
    return block


def parse_file(path: Path) -> list[Block]:
    import hcl2
    from hcl2.rules.base import BlockRule

    tree = hcl2.parses(path.read_text(encoding="utf-8"))
    return [_to_block(el, path) for el in tree.body.children if isinstance(el, BlockRule)]


class Module:
    """One module directory evaluated with its inputs; ``prefix`` is ``module.NAME.`` for a child."""

    def __init__(
        self, directory: Path, inputs: dict[str, Any] | None = None, prefix: str = "", depth: int = 0
    ):
        self.directory, self.prefix, self.depth = directory, prefix, depth
        self.blocks = [b for path in sorted(directory.glob("*.tf")) for b in parse_file(path)]
        self.inputs = inputs or {}
        self.variables = {b.labels[0]: b for b in self.blocks if b.kind == "variable" and b.labels}
        self.locals = {k: v for b in self.blocks if b.kind == "locals" for k, v in b.attrs.items()}
        self.outputs = {b.labels[0]: b for b in self.blocks if b.kind == "output" and b.labels}
        self.resources = [b for b in self.blocks if b.kind == "resource" and len(b.labels) == 2]
        self.types = {b.labels[0] for b in self.resources}
        self.children: dict[str, Module] = {}
        self._busy: set[str] = set()
        for call in (b for b in self.blocks if b.kind == "module" and b.labels):
            source = str(self.value(call.attrs.get("source", ("", 0))[0]))
            if not source.startswith(("./", "../")) or depth > 8:
                continue
            args = {k: self.value(v) for k, (v, _) in call.attrs.items() if k not in ("source", "version")}
            child_dir = (directory / source).resolve()
            self.children[call.labels[0]] = Module(
                child_dir, args, f"{prefix}module.{call.labels[0]}.", depth + 1
            )

    def address(self, rtype: str, name: str) -> str:
        return f"{self.prefix}{rtype}.{name}"

    # -- evaluation --------------------------------------------------------------------------------
    def value(self, raw: Any) -> Any:
        """A serialized hcl2 value as a plain value or a CloudFormation intrinsic (Ref/GetAtt/Join)."""
        if isinstance(raw, bool | int | float) or raw is None:
            return raw
        if isinstance(raw, dict):
            return {_unquote(str(k)): self.value(v) for k, v in raw.items() if not str(k).startswith("__")}
        if isinstance(raw, list):
            return [self.value(v) for v in raw]
        text = str(raw)
        if len(text) >= 2 and text[0] == text[-1] == '"' and not text.startswith('"<<'):
            return self._template(text[1:-1])
        if text.startswith("${") and text.endswith("}"):
            return self.expression(text[2:-1].strip())
        return text

    def _template(self, text: str) -> Any:
        parts: list[Any] = []
        pos = 0
        while True:
            start = text.find("${", pos)
            end = _closing(text, start + 2) if start >= 0 else -1
            if start < 0 or end < 0:
                break
            parts.append(text[pos:start].replace('\\"', '"'))
            parts.append(self.expression(text[start + 2 : end].strip()))
            pos = end + 1
        parts.append(text[pos:].replace('\\"', '"'))
        if all(isinstance(p, str | int | float) and not isinstance(p, bool) for p in parts):
            return "".join(str(p) for p in parts)
        return {"Fn::Join": ["", [p for p in parts if p != ""]]}

    def expression(self, expr: str) -> Any:
        if expr.startswith("jsonencode(") and expr.endswith(")"):
            import hcl2

            try:
                return self.value(hcl2.loads(f"x = {expr[len('jsonencode(') : -1]}\n")["x"])
            except Exception:
                return placeholder(expr[:40])
        if expr in ("true", "false"):
            return expr == "true"
        parts = expr.split(".")
        if len(parts) == 2 and parts[0] == "var":
            return self._variable(parts[1])
        if len(parts) == 2 and parts[0] == "local" and parts[1] in self.locals:
            return self._guarded(f"local.{parts[1]}", lambda: self.value(self.locals[parts[1]][0]))
        if len(parts) == 3 and parts[0] == "module" and parts[1] in self.children:
            child = self.children[parts[1]]
            out = child.outputs.get(parts[2])
            if out is not None and "value" in out.attrs:
                return child._guarded(f"output.{parts[2]}", lambda: child.value(out.attrs["value"][0]))
        if len(parts) == 3 and parts[0] in self.types and parts[2] in _REF_ATTRS:
            addr = self.address(parts[0], parts[1])
            return {"Fn::GetAtt": [addr, "Arn"]} if parts[2] == "arn" else {"Ref": addr}
        try:
            return int(expr) if expr.lstrip("-").isdigit() else float(expr)
        except ValueError:
            return placeholder(expr[:60])

    def _variable(self, name: str) -> Any:
        if name in self.inputs:
            return self.inputs[name]
        block = self.variables.get(name)
        if block is not None and "default" in block.attrs:
            return self._guarded(f"var.{name}", lambda: self.value(block.attrs["default"][0]))
        return placeholder(f"var.{name}")

    def _guarded(self, key: str, compute: Callable[[], Any]) -> Any:
        if key in self._busy:
            return placeholder(key)  # a reference cycle
        self._busy.add(key)
        try:
            return compute()
        finally:
            self._busy.discard(key)

    def all_modules(self) -> list[Module]:
        return [self, *(m for child in self.children.values() for m in child.all_modules())]


def _closing(text: str, start: int) -> int:
    """Index of the ``}`` closing an interpolation opened before ``start`` (braces nest)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            if depth == 0:
                return i
            depth -= 1
    return -1
