"""CloudFormation/SAM templates: cfn-lint's decoder (short-form tags, line numbers) plus resolution.

Resolution is ours and deliberately small: cfn-lint's resolver is internal API, yields
*every* ``AllowedValues`` entry instead of the default, drops ``Fn::GetAtt`` and anything
it cannot resolve. The gate needs one value per expression from parameter defaults plus
the spec's overrides, ARNs for ``GetAtt``/``Ref`` of common resource types, and
placeholders (``{{unresolved:...}}``) for the rest: braces never occur in ARNs or probes,
so an unresolved part can never match a concrete resource by accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.gate.findings import Finding

PSEUDO_DEFAULTS = {
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::URLSuffix": "amazonaws.com",
}
NO_VALUE = object()
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def placeholder(what: str) -> str:
    return "{{unresolved:" + what + "}}"


def line(node: Any, default: int = 0) -> int:
    """1-based line of a decoded node (cfn-lint nodes carry ``start_mark``)."""
    mark = getattr(node, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else default


def key_line(mapping: Any, key: str, default: int = 0) -> int:
    """1-based line of ``key`` inside a decoded mapping (works for scalar values too)."""
    if isinstance(mapping, Mapping):
        for k in mapping:
            if k == key:
                return line(k, default) or default
    return default


@dataclass
class Template:
    path: Path
    data: dict[str, Any]
    text: str = ""
    parse_findings: list[Finding] = field(default_factory=list)
    lintable: bool = True  # False for templates translated from Terraform (cfn-lint does not apply)
    # (logical id, property) -> (file, line) for translated templates, whose parts live in several files
    origins: dict[tuple[str, str], tuple[Path, int]] = field(default_factory=dict)

    def locate(self, logical_id: str, *keys: str) -> tuple[Path, int]:
        """File and line of the first of ``keys`` set under the resource's Properties, else the resource."""
        for key in keys:
            if (logical_id, key) in self.origins:
                return self.origins[logical_id, key]
            raw = self.properties(logical_id)
            if key in raw and not self.origins:
                return self.path, key_line(raw, key, self.resource_line(logical_id))
        if (logical_id, "") in self.origins:
            return self.origins[logical_id, ""]
        return self.path, self.resource_line(logical_id)

    def resources(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, res in (self.data.get("Resources") or {}).items():
            if isinstance(res, dict) and (not types or res.get("Type") in types):
                yield str(logical_id), res

    def resource_line(self, logical_id: str) -> int:
        return key_line(self.data.get("Resources") or {}, logical_id, 1)

    def properties(self, logical_id: str) -> dict[str, Any]:
        props = (self.data.get("Resources") or {}).get(logical_id, {}).get("Properties") or {}
        return props if isinstance(props, dict) else {}

    def is_sam(self) -> bool:
        transform = self.data.get("Transform")
        names = transform if isinstance(transform, list) else [transform]
        return any(isinstance(n, str) and n.startswith("AWS::Serverless") for n in names)


def load_template(path: Path) -> Template:
    """Decode with :mod:`harness.gate.decode`; a template it cannot read is a ``GATE001`` finding."""
    from harness.gate.decode import DecodeError, load

    try:
        data = load(path, aliases=False)
    except DecodeError as exc:
        finding = Finding(str(path), exc.line, "GATE001", "error", "", str(exc))
        return Template(path, {}, parse_findings=[finding])
    if not isinstance(data, dict):
        finding = Finding(str(path), 1, "GATE001", "error", "", "a template must be a mapping")
        return Template(path, {}, parse_findings=[finding])
    return Template(path, data)


def looks_like_template(data: Any) -> bool:
    return isinstance(data, dict) and (
        "AWSTemplateFormatVersion" in data or isinstance(data.get("Resources"), dict)
    )


# ARNs and Ref values for resource types the gate reasons about: (ref, {attribute: format}).
_NAME_PROP = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Events::Rule": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
}
_ARN_FORMAT = {
    "AWS::S3::Bucket": "arn:{p}:s3:::{name}",
    "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{name}",
    "AWS::IAM::ManagedPolicy": "arn:{p}:iam::{a}:policy/{name}",
    "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{name}",
    "AWS::Serverless::Function": "arn:{p}:lambda:{r}:{a}:function:{name}",
    "AWS::DynamoDB::Table": "arn:{p}:dynamodb:{r}:{a}:table/{name}",
    "AWS::Events::Rule": "arn:{p}:events:{r}:{a}:rule/{name}",
    "AWS::SNS::Topic": "arn:{p}:sns:{r}:{a}:{name}",
    "AWS::Logs::LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{name}:*",
    "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{name}",
}
_REF_IS_ARN = {"AWS::IAM::ManagedPolicy", "AWS::SNS::Topic", "AWS::IAM::OIDCProvider"}


class Resolver:
    """Resolve intrinsic functions to plain values, with placeholders for what cannot be known."""

    def __init__(self, template: Template, overrides: Mapping[str, Any] | None = None) -> None:
        self.template = template
        self.memo: dict[str, Any] = {}  # per-template results shared by the rule families
        self.values: dict[str, Any] = dict(PSEUDO_DEFAULTS)
        self.values["AWS::StackName"] = placeholder("AWS::StackName")
        for name, spec in (template.data.get("Parameters") or {}).items():
            if isinstance(spec, dict) and "Default" in spec:
                default = spec["Default"]
                if str(spec.get("Type", "")).startswith("CommaDelimitedList") and isinstance(default, str):
                    default = [v.strip() for v in default.split(",")]
                self.values[str(name)] = default
        for key, value in (overrides or {}).items():
            self.values[str(key)] = value

    # -- references ---------------------------------------------------------------------------
    def _fmt(self, fmt: str, name: Any) -> str:
        return fmt.format(
            p=self.values["AWS::Partition"], a=self.values["AWS::AccountId"],
            r=self.values["AWS::Region"], name=name,
        )  # fmt: skip

    def _resource_name(self, logical_id: str, rtype: str) -> Any:
        prop = _NAME_PROP.get(rtype)
        props = self.template.properties(logical_id)
        if prop and prop in props:
            return self.resolve(props[prop])
        return placeholder(f"{logical_id}.Name")

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.values:
            return self.values[name]
        res = (self.template.data.get("Resources") or {}).get(name)
        if not isinstance(res, dict):
            return placeholder(f"Ref:{name}")
        rtype = str(res.get("Type", ""))
        if rtype == "AWS::IAM::OIDCProvider":
            url = str(self.resolve(self.template.properties(name).get("Url", placeholder(name + ".Url"))))
            return self._fmt("arn:{p}:iam::{a}:oidc-provider/{name}", url.removeprefix("https://"))
        if rtype in _REF_IS_ARN and rtype in _ARN_FORMAT:
            return self._fmt(_ARN_FORMAT[rtype], self._resource_name(name, rtype))
        return self._resource_name(name, rtype) if rtype in _NAME_PROP else placeholder(f"Ref:{name}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        res = (self.template.data.get("Resources") or {}).get(logical_id)
        rtype = str(res.get("Type", "")) if isinstance(res, dict) else ""
        if attribute == "Arn" and rtype in _ARN_FORMAT:
            return self._fmt(_ARN_FORMAT[rtype], self._resource_name(logical_id, rtype))
        return placeholder(f"{logical_id}.{attribute}")

    # -- functions ----------------------------------------------------------------------------
    def _sub(self, text: str, local: Mapping[str, Any]) -> str:
        def one(m: re.Match[str]) -> str:
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in local:
                value = self.resolve(local[inner])
            elif "." in inner and not inner.startswith("AWS::"):
                value = self.get_att(*inner.split(".", 1))
            else:
                value = self.ref(inner)
            return ",".join(map(str, value)) if isinstance(value, list) else str(value)

        return _SUB_VAR.sub(one, text)

    def condition(self, name_or_expr: Any) -> bool:
        expr = name_or_expr
        if isinstance(expr, str):
            expr = (self.template.data.get("Conditions") or {}).get(expr, False)
        if isinstance(expr, dict) and len(expr) == 1:
            (fn, arg), = expr.items()  # fmt: skip
            if fn == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return bool(str(left) == str(right))
            if fn == "Fn::Not":
                return not self.condition(arg[0])
            if fn == "Fn::And":
                return all(self.condition(a) for a in arg)
            if fn == "Fn::Or":
                return any(self.condition(a) for a in arg)
            if fn == "Condition":
                return self.condition(str(arg))
        return bool(expr)

    def _function(self, fn: str, arg: Any) -> Any:
        if fn == "Ref":
            return self.ref(str(arg))
        if fn == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
            return self.get_att(str(parts[0]), str(self.resolve(parts[1])))
        if fn == "Fn::Sub":
            text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            return self._sub(str(text), local)
        if fn == "Fn::Join":
            items = self.resolve(arg[1])
            items = items if isinstance(items, list) else [items]
            return str(arg[0]).join(str(i) for i in items)
        if fn == "Fn::Select":
            items = self.resolve(arg[1])
            index = int(self.resolve(arg[0]))
            return items[index] if isinstance(items, list) and index < len(items) else placeholder("Select")
        if fn == "Fn::Split":
            value = self.resolve(arg[1])
            return str(value).split(str(arg[0]))
        if fn == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if fn == "Fn::FindInMap":
            keys = [str(self.resolve(a)) for a in arg[:3]]
            mapping = (self.template.data.get("Mappings") or {}).get(keys[0], {})
            return self.resolve(mapping.get(keys[1], {}).get(keys[2], placeholder("FindInMap")))
        return placeholder(fn)

    def resolve(self, value: Any) -> Any:
        """A plain (node-free) copy of ``value`` with every intrinsic function resolved."""
        if isinstance(value, dict):
            if len(value) == 1:
                (key, arg), = value.items()  # fmt: skip
                if key == "Ref" or str(key).startswith("Fn::"):
                    return self._function(str(key), arg)
            out = {str(k): self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in out.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        if isinstance(value, str):
            return str(value)
        return value
