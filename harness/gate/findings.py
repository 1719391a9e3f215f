"""Gate findings and the catalogue of rules that produce them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "note")


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    rule: str
    severity: str
    resource: str
    message: str
    # The line of the statement (or block) the finding is about, when ``line`` points inside
    # it: findings about one statement fold together even when they name different elements.
    anchor: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "rule": self.rule,
            "severity": self.severity,
            "resource": self.resource,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        res = f" [{self.resource}]" if self.resource else ""
        return f"{where}: {self.severity} {self.rule}{res}: {self.message}"


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    summary: str
    severity: str = "error"


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "GATE000",
            "unevaluable-policy",
            "A policy the IAM engine refuses to evaluate (unknown operator, malformed element).",
        ),
        Rule(
            "GATE001",
            "unreadable-template",
            "A template that cannot be decoded (YAML/JSON syntax, duplicate keys, aliases, unknown tags).",
        ),
        Rule(
            "IAM001", "missing-required-access", "The role does not allow an action the policy spec requires."
        ),
        Rule(
            "IAM002",
            "access-beyond-scope",
            "The role allows a must-deny probe (other stack, region or account).",
        ),
        Rule("IAM003", "full-wildcard-action", "An Allow statement grants `*` or `*:*`."),
        Rule("IAM004", "service-wildcard-action", "An Allow statement grants `<service>:*`."),
        Rule("IAM005", "admin-managed-policy", "An administrator/power-user AWS managed policy is attached."),
        Rule(
            "IAM006",
            "write-on-any-resource",
            'A Write or Permissions-management action is allowed on `Resource: "*"` '
            "although it can be scoped.",
        ),
        Rule(
            "IAM007",
            "passrole-unscoped",
            "`iam:PassRole` is allowed on a wildcard resource or without an iam:PassedToService condition.",
        ),
        Rule("IAM008", "role-not-found", "A role named in the policy spec is not declared in any template."),
        Rule("OIDC001", "oidc-issuer", "The federated principal is not the GitHub Actions token issuer."),
        Rule("OIDC002", "oidc-action", "The trust statement allows more than sts:AssumeRoleWithWebIdentity."),
        Rule("OIDC003", "oidc-audience", "The `aud` claim is not pinned to sts.amazonaws.com."),
        Rule(
            "OIDC004",
            "oidc-subject-too-broad",
            "The `sub` condition admits other repositories, branches, tags, environments or pull requests.",
        ),
        Rule(
            "OIDC005",
            "oidc-principal-unresolved",
            "The federated principal cannot be resolved (a parameter without a default): set it in the spec.",
        ),
        Rule(
            "WF001", "id-token-outside-deploy-job", "`id-token: write` is granted outside the deploy job(s)."
        ),
        Rule(
            "WF002",
            "workflow-permissions-not-read-only",
            "Workflow-level permissions are missing or grant write access.",
        ),
        Rule("WF003", "unexpected-role", "The workflow assumes a role other than the expected deploy role."),
        Rule(
            "WF004",
            "role-unresolved",
            "`role-to-assume` is an expression the gate cannot resolve from the workflow or the spec.",
        ),
        Rule("S3001", "bucket-encryption", "Archive bucket without default encryption."),
        Rule("S3002", "bucket-versioning", "Archive bucket without versioning enabled."),
        Rule(
            "S3003",
            "bucket-public-access-block",
            "Archive bucket without all four public-access-block flags.",
        ),
        Rule(
            "S3004",
            "bucket-retain-policies",
            "Archive bucket without DeletionPolicy and UpdateReplacePolicy Retain.",
        ),
        Rule(
            "S3005",
            "bucket-lifecycle",
            "Archive bucket without an enabled lifecycle rule for noncurrent versions.",
        ),
        Rule("S3006", "bucket-backup-tags", "Archive bucket without the backup-selection tags."),
        Rule(
            "SCHED001",
            "schedule-not-declared",
            "A scheduled function has no schedule declared in the template.",
        ),
        Rule(
            "SCHED002",
            "schedule-created-at-runtime",
            "A function's own role may create or change EventBridge rules at runtime.",
        ),
        Rule(
            "SCHED003",
            "schedule-disabled-or-invalid",
            "A function's schedule is disabled, one-time, or not a valid rate()/cron() expression.",
        ),
        Rule("DB001", "db-retention", "Database backup retention below the policy."),
        Rule("DB002", "db-pitr", "Point-in-time recovery is not enabled."),
        Rule("DB003", "db-deletion-protection", "Database without deletion protection."),
        Rule("DB004", "backup-plan", "No backup plan with a daily schedule and a lifecycle delete-after."),
        Rule(
            "DB005", "backup-age-alarm", "No alarm on backup age beyond the policy's limit wired to a topic."
        ),
        Rule("DB006", "backup-job-alarm", "No alarm on failed or expired backup jobs wired to a topic."),
        Rule("DB007", "backup-selection", "The daily backup plan has no selection of resources or tags."),
        Rule("TF000", "terraform-unparseable", "A Terraform module that python-hcl2 cannot parse."),
        Rule("LIVE001", "live-role-missing", "The deployed role named by the spec does not exist."),
        Rule(
            "LIVE002",
            "live-stale",
            "The template grants (or denies) what the deployed role does not: the stack was not updated.",
        ),
        Rule(
            "LIVE003",
            "live-out-of-band",
            "The deployed role grants what the template does not: it was changed outside the stack.",
        ),
        Rule("LIVE004", "live-trust-drift", "The deployed role's trust policy differs from the template's."),
        Rule(
            "TOOL001",
            "tool-unavailable",
            "An optional auditor (zizmor) is not installed; its audits were skipped.",
            "warning",
        ),
    )
}


def describe(rule_id: str) -> Rule:
    """The catalogue entry, or a generic one for external rules (``cfn-lint/E3012``, ``zizmor/...``)."""
    if rule_id in RULES:
        return RULES[rule_id]
    tool, _, ident = rule_id.partition("/")
    return Rule(rule_id, ident or rule_id, f"Reported by {tool}.")
