"""SAM function ``Policies``: inline documents, managed policy names/ARNs and SAM policy templates.

SAM turns each ``AWS::Serverless::Function`` without a ``Role`` into an ``AWS::IAM::Role``
named ``<FunctionId>Role``; its ``Policies`` become inline policies and managed-policy
attachments. The policy templates (``S3ReadPolicy: {BucketName: ...}``) are expanded
from aws-sam-translator's own ``policy_templates.json`` (read as data: importing the
translator costs ~100 ms), with the template's ``{"Ref": Parameter}`` placeholders
replaced by the values given. An entry the gate does not recognise is refused.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

SAM_FUNCTION = "AWS::Serverless::Function"
SAM_STATE_MACHINE = "AWS::Serverless::StateMachine"
SAM_TYPES = (SAM_FUNCTION, SAM_STATE_MACHINE)
# The managed policy SAM attaches to every function role it creates.
BASIC_EXECUTION = "arn:{p}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


class SamPolicyError(ValueError):
    """A ``Policies`` entry that is not an inline document, a managed policy or a known template."""


@lru_cache(maxsize=1)
def policy_templates() -> dict[str, Any]:
    """aws-sam-translator's policy templates by name (``{"Definition", "Parameters"}``)."""
    spec = find_spec("samtranslator")
    if spec is None or not spec.submodule_search_locations:
        raise SamPolicyError("SAM policy templates need aws-sam-translator (pip install aws-sam-translator)")
    path = Path(next(iter(spec.submodule_search_locations))) / "policy_templates_data/policy_templates.json"
    templates: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["Templates"]
    return templates


def _bind(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if len(node) == 1 and "Ref" in node and node["Ref"] in values:
            return values[node["Ref"]]
        return {k: _bind(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_bind(v, values) for v in node]
    return node


def expand_template(name: str, params: Any) -> dict[str, Any]:
    """The policy document of SAM policy template ``name`` with ``params`` bound."""
    templates = policy_templates()
    if name not in templates:
        from difflib import get_close_matches

        close = get_close_matches(name, list(templates), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise SamPolicyError(f"{name!r} is not a SAM policy template{hint}")
    template = templates[name]
    wanted = set(template.get("Parameters") or {})
    given = params if isinstance(params, dict) else {}
    if params not in ({}, None) and not isinstance(params, dict):
        raise SamPolicyError(f"{name}: parameters must be a mapping")
    missing = sorted(wanted - set(map(str, given)))
    if missing:
        raise SamPolicyError(f"{name}: parameter {missing[0]} has no value")
    unknown = sorted(set(map(str, given)) - wanted)
    if unknown:
        raise SamPolicyError(f"{name}: {unknown[0]} is not a parameter of this template")
    document: dict[str, Any] = _bind(template["Definition"], {str(k): v for k, v in given.items()})
    return document


def policy_entries(policies: Any) -> list[Any]:
    """``Policies`` as a list (SAM accepts one string, one document or a list)."""
    if policies is None:
        return []
    return policies if isinstance(policies, list) else [policies]


def classify_entry(entry: Any) -> tuple[str, Any]:
    """``("managed", name-or-arn)``, ``("inline", document)`` or ``("template", (name, params))``."""
    if isinstance(entry, str) or (isinstance(entry, dict) and len(entry) == 1 and _intrinsic(entry)):
        return "managed", entry
    if isinstance(entry, dict) and "Statement" in entry:
        return "inline", entry
    if isinstance(entry, dict) and len(entry) == 1:
        ((name, params),) = entry.items()
        return "template", (str(name), params)
    raise SamPolicyError(
        "a Policies entry is neither a managed policy, a policy document nor a policy template"
    )


def _intrinsic(entry: dict[str, Any]) -> bool:
    (key,) = entry
    return key == "Ref" or str(key).startswith("Fn::")


def managed_arn(value: str, partition: str) -> str:
    """A managed policy name (``AmazonS3ReadOnlyAccess``) as SAM resolves it, or the ARN given."""
    return value if value.startswith("arn:") else f"arn:{partition}:iam::aws:policy/{value}"
