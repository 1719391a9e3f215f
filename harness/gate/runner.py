"""Run the gate over templates and workflows: collect inputs, apply every check family, consolidate."""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, DrillError, VerificationFailed
from harness.gate.checks import families
from harness.gate.findings import RULES, SEVERITIES, Finding
from harness.gate.policies import RolePolicies, collect_roles
from harness.gate.rules_workflow import load_workflow, looks_like_workflow, start_zizmor, stop_zizmor
from harness.gate.spec import GateSpec, check_names
from harness.gate.templates import Resolver, Template, load_template

if TYPE_CHECKING:
    from harness.gate.live import LiveReader

CATEGORIES = {
    "cfn-lint": "cfn-lint",
    "GATE": "iam",
    "IAM": "iam",
    "OIDC": "oidc",
    "WF": "workflows",
    "zizmor": "workflows",
    "TOOL": "workflows",
    "S3": "posture",
    "SCHED": "posture",
    "DB": "posture",
    "TF": "posture",
    "LIVE": "live",
}
# When several rules fire on the same line, the root cause is reported and the rest are folded into it.
STRUCTURAL_FIRST = ["GATE000", "IAM003", "IAM004", "IAM005", "IAM007", "IAM006", "IAM001", "IAM002"]
FOLDABLE = frozenset({"IAM001", "IAM002", "IAM006"})
PRECEDENCE = STRUCTURAL_FIRST + [r for r in RULES if r not in STRUCTURAL_FIRST]
_SUFFIXES = (".yaml", ".yml", ".json", ".template")


def category(rule: str) -> str:
    return next((cat for prefix, cat in CATEGORIES.items() if rule.startswith(prefix)), "other")


@dataclass
class GateReport:
    findings: list[Finding] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    roles_evaluated: list[str] = field(default_factory=list)
    spec: str | None = None
    fail_on: str = "error"
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # directory entries that are not gate inputs
    live: dict[str, Any] | None = None  # where the drift check read the deployed role

    def failing(self, cat: str | None = None) -> list[Finding]:
        levels = SEVERITIES[: SEVERITIES.index(self.fail_on) + 1]
        return [f for f in self.findings if f.severity in levels and (cat is None or category(f.rule) == cat)]

    @property
    def passed(self) -> bool:
        return not self.failing()

    def counts(self) -> dict[str, Any]:
        return {
            "by_severity": dict(Counter(f.severity for f in self.findings)),
            "by_rule": dict(sorted(Counter(f.rule for f in self.findings).items())),
            "failing": len(self.failing()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "fail_on": self.fail_on,
            "spec": self.spec,
            "templates": self.templates,
            "workflows": self.workflows,
            "roles_evaluated": self.roles_evaluated,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
            "live": self.live,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
        }


_SKIP_DIRS = frozenset(
    {".git", ".terraform", "node_modules", ".venv", "venv", "__pycache__", ".aws-sam", "cdk.out"}
)


@dataclass
class Inputs:
    """What the gate was given, by kind; ``skipped`` lists directory entries that are none of them."""

    templates: list[Path] = field(default_factory=list)
    workflows: list[Path] = field(default_factory=list)
    terraform: list[Path] = field(default_factory=list)  # module directories
    skipped: list[Path] = field(default_factory=list)


def expand_inputs(paths: Iterable[str | Path]) -> list[tuple[Path, bool]]:
    """Files to look at, each with whether it was named explicitly (not found in a directory)."""
    out: list[tuple[Path, bool]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = (
                p for p in sorted(path.rglob("*"))
                if p.is_file() and (p.suffix in _SUFFIXES or p.suffix == ".tf")
                and not _SKIP_DIRS & set(p.relative_to(path).parts[:-1])
            )  # fmt: skip
            out.extend((p, False) for p in found)
        elif path.is_file():
            out.append((path, True))
        else:
            raise ConfigError(f"{path}: no such template, workflow or directory")
    return out


def _top_level_keys(path: Path, text: str) -> set[str]:
    """Top-level keys of a YAML or JSON document, read cheaply (no full decode)."""
    if path.suffix == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return set()
        return set(map(str, data)) if isinstance(data, dict) else set()
    keys = set()
    for row in text.splitlines():
        if row and not row[0].isspace() and row[0] not in "#-%" and ":" in row:
            keys.add(row.split(":", 1)[0].strip().strip("'\""))
    return keys


def classify(paths: Sequence[tuple[Path, bool]]) -> Inputs:
    """Sort inputs into templates, workflows and Terraform modules; refuse an explicit file that
    is none of them, skip (and list) such a file met in a directory."""
    inputs = Inputs()
    modules: dict[Path, None] = {}
    for path, explicit in paths:
        if path.suffix == ".tf":
            modules.setdefault(path.parent, None)
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        keys = _top_level_keys(path, text)
        if ".github/workflows" in path.as_posix() or ("jobs" in keys and keys & {"on", "true", "True"}):
            inputs.workflows.append(path)
        elif keys & {"AWSTemplateFormatVersion", "Resources"}:
            inputs.templates.append(path)
        elif explicit:
            raise ConfigError(f"{path}: neither a CloudFormation/SAM template nor a GitHub Actions workflow")
        else:
            inputs.skipped.append(path)
    inputs.terraform = list(modules)
    return inputs


def consolidate(findings: Iterable[Finding], ignore: Sequence[str] = ()) -> list[Finding]:
    """Fold consequence findings (IAM001/IAM002/IAM006) into the root cause on the same statement.

    ``events:*`` on ``*`` is one mistake: it also leaks every must-deny probe (IAM002) and
    grants write on any resource (IAM006). Such consequences are mentioned in the message
    of the structural finding about the same (file, statement, resource) instead of being
    reported again; distinct problems (every other rule) are always reported separately.
    Folding never lowers severity: the folded finding takes the highest severity of its parts.
    """
    groups: dict[tuple[str, int, str], list[Finding]] = {}
    for f in findings:
        if f.rule not in ignore:
            groups.setdefault((f.file, f.anchor or f.line, f.resource), []).append(f)

    def rank(f: Finding) -> tuple[int, int]:
        return (
            SEVERITIES.index(f.severity),
            PRECEDENCE.index(f.rule) if f.rule in PRECEDENCE else len(PRECEDENCE),
        )

    out: list[Finding] = []
    for group in groups.values():
        group.sort(key=rank)
        kept = [f for f in group if f.rule not in FOLDABLE] or group[:1]
        folded = [f for f in group if f not in kept]
        if folded:
            head = kept[0]
            worst = min((head, *folded), key=lambda f: SEVERITIES.index(f.severity)).severity
            also = "; also " + "; ".join(f"{f.rule}: {f.message}" for f in folded)
            kept[0] = Finding(head.file, head.line, head.rule, worst, head.resource, head.message + also)
        out.extend(kept)
    return sorted(out)


@dataclass
class TemplateResults:
    findings: list[Finding] = field(default_factory=list)
    roles: dict[str, RolePolicies] = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)  # logical id / address -> resource type
    checked: list[Path] = field(default_factory=list)  # templates and Terraform root modules


def _declared(template: Template) -> dict[str, str]:
    return {lid: str(res.get("Type", "")) for lid, res in template.resources()}


def check_templates(
    templates: Sequence[Path], spec: GateSpec, *, lint: bool = True, terraform: Sequence[Path] = ()
) -> TemplateResults:
    """The ``role`` and ``template`` families on every template and Terraform module
    (``lint=False`` leaves out cfn-lint)."""
    role_checks = [f.check for f in families("role")]
    template_checks = [f.check for f in families("template") if lint or f.name != "cfn-lint"]
    results = TemplateResults()
    loaded: list[Template] = []
    for path in templates:
        template = load_template(path)
        if template.parse_findings:
            results.findings += template.parse_findings
            continue
        loaded.append(template)
    results.checked = list(templates)
    if terraform:
        from harness.gate.terraform_resources import load_modules

        tf_templates, tf_findings = load_modules(terraform)
        results.findings += tf_findings
        loaded += tf_templates
        results.checked += [t.path for t in tf_templates]
    for template in loaded:
        with guarded(template.path, "template checks"):
            resolver = Resolver(template, spec.parameters)
            results.declared.update(_declared(template))
            for logical_id, rp in collect_roles(template, resolver).items():
                results.roles.setdefault(logical_id, rp)
                for check in role_checks:
                    results.findings += check(rp, spec)
            for check in template_checks:
                results.findings += check(template, resolver, spec)
    return results


@contextlib.contextmanager
def guarded(path: Path | str, step: str) -> Iterator[None]:
    """A crash is never an answer: an unexpected exception becomes one line naming the file and the
    step (exit 2), with the exception's type only (its text could quote the input)."""
    try:
        yield
    except (DrillError, VerificationFailed):
        raise
    except Exception as exc:  # turned into a configuration error (exit 2), not swallowed
        raise ConfigError(
            f"{path}: {step}: the gate could not check this input ({type(exc).__name__})"
        ) from exc


def run_gate(
    spec: GateSpec, inputs: Sequence[str | Path], *, lint: bool = True, live: LiveReader | None = None
) -> GateReport:
    """Run every check family over ``inputs``; ``live`` reads the deployed role for the drift check."""
    started = time.perf_counter()
    given = classify(expand_inputs(inputs))
    if not given.templates and not given.workflows and not given.terraform:
        raise ConfigError("no templates, workflows or Terraform modules to check")
    start_zizmor(given.workflows, spec)  # a subprocess: it runs while the templates are checked
    try:
        return _run(spec, given, started, lint=lint, live=live)
    finally:
        stop_zizmor()


def _run(spec: GateSpec, given: Inputs, started: float, *, lint: bool, live: LiveReader | None) -> GateReport:
    results = check_templates(given.templates, spec, lint=lint, terraform=given.terraform)
    check_names(spec, results.declared)
    findings = results.findings
    templates = results.checked
    for family in families("templates"):
        findings += family.check(templates, list(results.roles), spec)
    if live is not None:
        from harness.gate.live import check_live

        findings += check_live(spec, results.roles, live)
    workflow_checks = [f.check for f in families("workflow")]
    for path in given.workflows:
        data = load_workflow(path)
        if not looks_like_workflow(data, path):
            raise ConfigError(f"{path}: not a GitHub Actions workflow (no 'on' and 'jobs')")
        with guarded(path, "workflow checks"):
            for check in workflow_checks:
                findings += check(path, data, spec)
    for family in families("workflows"):
        findings += family.check(given.workflows, spec)
    return GateReport(
        findings=consolidate(findings, spec.ignore),
        templates=[str(p) for p in templates],
        workflows=[str(p) for p in given.workflows],
        roles_evaluated=sorted(results.roles),
        spec=str(spec.path) if spec.path else None,
        fail_on=spec.fail_on,
        seconds=time.perf_counter() - started,
        skipped=[str(p) for p in given.skipped],
        live=live.describe() if live is not None else None,
    )
