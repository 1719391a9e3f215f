"""Template posture: archive buckets (R2/R6), declared schedules (R6), database backups (R7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.aws.s3 import PUBLIC_ACCESS_BLOCK_FLAGS
from harness.gate import schedules
from harness.gate.checks import check_family
from harness.gate.findings import Finding
from harness.gate.iam import Request, evaluate
from harness.gate.policies import function_statements
from harness.gate.spec import GateSpec
from harness.gate.templates import Resolver, Template, key_line

BUCKET = "AWS::S3::Bucket"
FUNCTIONS = ("AWS::Serverless::Function", "AWS::Lambda::Function")
RULE_TYPES = ("AWS::Events::Rule", "AWS::Scheduler::Schedule")
DATABASES = ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::DynamoDB::Table")
SSE = {"AES256", "aws:kms", "aws:kms:dsse"}


def refers_to(node: Any, logical_id: str) -> bool:
    """Whether ``node`` holds a ``Ref``/``Fn::GetAtt``/``${Id.Arn}`` of exactly ``logical_id``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("Ref") == logical_id:
                return True
            att = item.get("Fn::GetAtt")
            head = att[0] if isinstance(att, list) and att else str(att).split(".")[0] if att else None
            if head == logical_id:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and ("${" + logical_id + "}" in item or "${" + logical_id + "." in item):
            return True
    return False


def _num(value: Any, default: float = 0.0) -> float:
    """A number from a template value; what cannot be read (a placeholder, text) is ``default``:
    every caller picks the default that fails its rule, so an unknown value never passes."""
    if isinstance(value, bool):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class Posture:
    def __init__(self, template: Template, resolver: Resolver, spec: GateSpec) -> None:
        self.t, self.r, self.spec = template, resolver, spec
        self.file = str(template.path)

    def finding(self, where: tuple[Path, int], rule: str, resource: str, message: str) -> Finding:
        return Finding(str(where[0]), where[1], rule, "error", resource, message)

    def props(self, logical_id: str) -> dict[str, Any]:
        resolved = self.r.resolve(self.t.properties(logical_id))
        return resolved if isinstance(resolved, dict) else {}

    def at(self, logical_id: str, *keys: str) -> tuple[Path, int]:
        """File and line of the first of ``keys`` present under Properties, else of the resource."""
        return self.t.locate(logical_id, *keys)

    # -- buckets ------------------------------------------------------------------------------
    def buckets(self) -> Iterator[Finding]:
        wanted = self.spec.archive_buckets
        for lid, res in self.t.resources(BUCKET):
            if wanted is not None and lid not in wanted:
                continue
            yield from self.bucket(lid, res)

    def bucket(self, lid: str, res: dict[str, Any]) -> Iterator[Finding]:
        p = self.props(lid)
        rules = (p.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
        algos = {(r.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm") for r in rules}
        if not algos & SSE:
            yield self.finding(self.at(lid, "BucketEncryption"), "S3001", lid, "no default encryption")
        status = (p.get("VersioningConfiguration") or {}).get("Status")
        if status != "Enabled":
            msg = f"versioning is {status or 'not configured'}; archives need versioning Enabled"
            yield self.finding(self.at(lid, "VersioningConfiguration"), "S3002", lid, msg)
        pab = p.get("PublicAccessBlockConfiguration") or {}
        off = [f for f in PUBLIC_ACCESS_BLOCK_FLAGS if not _true(pab.get(f))]
        if off:
            line = self.at(lid, "PublicAccessBlockConfiguration")
            yield self.finding(line, "S3003", lid, "public access block flags not true: " + ", ".join(off))
        not_retained = [a for a in ("DeletionPolicy", "UpdateReplacePolicy") if res.get(a) != "Retain"]
        if not_retained:
            line = self.at(lid, not_retained[0])
            yield self.finding(line, "S3004", lid, " and ".join(not_retained) + " must be Retain")
        lifecycle = (p.get("LifecycleConfiguration") or {}).get("Rules") or []
        noncurrent = [
            r for r in lifecycle
            if r.get("Status") == "Enabled"
            and any(k.startswith("NoncurrentVersion") for k in r)
        ]  # fmt: skip
        if not noncurrent:
            line = self.at(lid, "LifecycleConfiguration")
            yield self.finding(line, "S3005", lid, "no enabled lifecycle rule for noncurrent versions")
        tags = {str(t.get("Key")): str(t.get("Value")) for t in p.get("Tags") or [] if isinstance(t, dict)}
        missing = {k: v for k, v in self.spec.backup_tags.items() if tags.get(k) != v}
        if missing:
            want = ", ".join(f"{k}={v}" for k, v in missing.items())
            yield self.finding(self.at(lid, "Tags"), "S3006", lid, f"backup-selection tags missing: {want}")

    # -- schedules ----------------------------------------------------------------------------
    def _function_schedules(self, fid: str) -> Iterator[tuple[str, bool, tuple[Path, int]]]:
        """(expression, enabled, where) for every schedule that invokes the function."""
        raw_events = self.t.properties(fid).get("Events") or {}
        for name, event in (self.props(fid).get("Events") or {}).items():
            if not isinstance(event, dict) or event.get("Type") not in ("Schedule", "ScheduleV2"):
                continue
            p = event.get("Properties") or {}
            expr = p.get("Schedule") if event.get("Type") == "Schedule" else p.get("ScheduleExpression")
            enabled = p.get("Enabled", True) is not False and str(p.get("Enabled", "true")).lower() != "false"
            enabled = enabled and str(p.get("State", "ENABLED")).upper() != "DISABLED"
            raw = (raw_events.get(name) or {}).get("Properties") or {}
            keys = ("Enabled", "State") if not enabled else ("Schedule", "ScheduleExpression")
            line = next((key_line(raw, k) for k in keys if k in raw), 0) or self.at(fid, "Events")[1]
            yield str(expr), enabled, (self.at(fid)[0], line)
        for lid, _ in self.t.resources(*RULE_TYPES):
            raw = self.t.properties(lid)
            targets = raw.get("Targets") or [raw.get("Target")]
            if "ScheduleExpression" not in raw or not refers_to(targets, fid):
                continue
            p = self.props(lid)
            enabled = str(p.get("State", "ENABLED")).upper() not in ("DISABLED",)
            yield (
                str(p.get("ScheduleExpression")),
                enabled,
                self.at(lid, "State" if not enabled else "ScheduleExpression"),
            )

    def schedules(self) -> Iterator[Finding]:
        functions = dict(self.t.resources(*FUNCTIONS))
        for fid in functions:
            found = list(self._function_schedules(fid))
            problems: list[tuple[tuple[Path, int], str]] = []
            usable = 0
            for expr, enabled, where in found:
                try:
                    parsed = schedules.parse(expr)
                except schedules.InvalidSchedule as exc:
                    problems.append((where, f"invalid schedule expression ({exc})"))
                    continue
                if not enabled:
                    problems.append((where, "the schedule is disabled"))
                elif not parsed.recurring:
                    problems.append((where, "a one-time at() schedule does not recur"))
                else:
                    usable += 1
            scheduled = fid in self.spec.scheduled_functions
            invalid = [p for p in problems if p[1].startswith("invalid")]
            if scheduled and not found:
                msg = "no Schedule event or EventBridge rule declared for this scheduled function"
                yield self.finding(self.at(fid), "SCHED001", fid, msg)
            elif (scheduled and found and not usable) or invalid:
                where = (invalid or problems)[0][0]
                yield self.finding(where, "SCHED003", fid, "; ".join(p[1] for p in problems))
        yield from self._runtime_schedules(functions)

    def _runtime_schedules(self, functions: dict[str, dict[str, Any]]) -> Iterator[Finding]:
        for fid in functions:
            statements = function_statements(self.t, self.r, fid)
            for action in ("events:PutRule", "events:PutTargets", "scheduler:CreateSchedule"):
                probe = "arn:*:events:*:*:rule/*" if action.startswith("events") else "*"
                result = evaluate(statements, Request.make(action, probe), "any")
                if result.allowed:
                    msg = f"the function's role allows {action}: schedules could be created at runtime"
                    by = result.allowed_by[0]
                    where = (self.at(fid)[0], by.line_of("Action") if by.line else self.at(fid)[1])
                    yield self.finding(where, "SCHED002", fid, msg)
                    break

    # -- databases (R7) -----------------------------------------------------------------------
    def databases(self) -> Iterator[Finding]:
        dbs = list(self.t.resources(*DATABASES))
        if not dbs:
            return
        days = self.spec.retention_days
        for lid, res in dbs:
            p = self.props(lid)
            if res.get("Type") == "AWS::DynamoDB::Table":
                pitr = p.get("PointInTimeRecoverySpecification") or {}
                if not _true(pitr.get("PointInTimeRecoveryEnabled")):
                    line = self.at(lid, "PointInTimeRecoverySpecification")
                    yield self.finding(line, "DB002", lid, "PointInTimeRecoveryEnabled is not true")
                elif _num(pitr.get("RecoveryPeriodInDays", 35)) < days:
                    line = self.at(lid, "PointInTimeRecoverySpecification")
                    yield self.finding(line, "DB001", lid, f"PITR recovery period below {days} days")
                protect = "DeletionProtectionEnabled"
            else:
                retention = int(_num(p.get("BackupRetentionPeriod", 1), -1))
                line = self.at(lid, "BackupRetentionPeriod")
                if retention < 0:
                    yield self.finding(line, "DB001", lid, "BackupRetentionPeriod cannot be resolved")
                elif retention == 0:
                    yield self.finding(
                        line, "DB002", lid, "BackupRetentionPeriod 0 disables automated backups and PITR"
                    )
                elif retention < days:
                    yield self.finding(
                        line, "DB001", lid, f"BackupRetentionPeriod {retention} < policy {days} days"
                    )
                protect = "DeletionProtection"
            if not _true(p.get(protect)):
                yield self.finding(self.at(lid, protect), "DB003", lid, f"{protect} is not true")
        first_id = dbs[0][0]
        first = self.at(first_id)
        if not self._daily_plan(days):
            msg = f"no AWS::Backup::BackupPlan rule with a daily schedule and DeleteAfterDays >= {days}"
            yield self.finding(first, "DB004", first_id, msg)
        elif not self._selected():
            msg = "the backup plan selects nothing: no BackupSelection (aws_backup_selection) names it"
            yield self.finding(first, "DB007", first_id, msg)
        if not self._age_alarm():
            hours = self.spec.max_backup_age_hours
            msg = f"no alarm (to an SNS topic) when the newest backup is older than {hours:g} h"
            yield self.finding(first, "DB005", first_id, msg)
        missing = [s for s in ("Failed", "Expired") if not self._job_alarm(s)]
        if missing:
            msg = f"no alarm or event rule (to an SNS topic) on {' and '.join(missing).lower()} backup jobs"
            yield self.finding(first, "DB006", first_id, msg)

    def _daily_plan(self, days: int) -> bool:
        for lid, _ in self.t.resources("AWS::Backup::BackupPlan"):
            for rule in (self.props(lid).get("BackupPlan") or {}).get("BackupPlanRule") or []:
                expr = str(rule.get("ScheduleExpression", "cron(0 5 ? * * *)"))
                try:
                    daily = schedules.parse(expr).daily
                except schedules.InvalidSchedule:
                    daily = False
                delete_after = (rule.get("Lifecycle") or {}).get("DeleteAfterDays")
                if daily and delete_after is not None and _num(delete_after) >= days:
                    return True
        return False

    def _selected(self) -> bool:
        """Some backup selection names a plan of the template and selects resources or tags."""
        plans = {lid for lid, _ in self.t.resources("AWS::Backup::BackupPlan")}
        for lid, _ in self.t.resources("AWS::Backup::BackupSelection"):
            raw = self.t.properties(lid)
            plan = raw.get("BackupPlanId")
            target = (
                plan.get("Ref") or (plan.get("Fn::GetAtt") or [None])[0] if isinstance(plan, dict) else None
            )
            chosen = self.props(lid).get("BackupSelection") or {}
            if target in plans and (chosen.get("Resources") or chosen.get("ListOfTags")):
                return True
        return False

    def _to_topic(self, actions: Any) -> bool:
        return any(":sns:" in str(a) for a in actions or [])

    def _alarms(self) -> Iterator[dict[str, Any]]:
        for lid, _ in self.t.resources("AWS::CloudWatch::Alarm"):
            p = self.props(lid)
            if self._to_topic(p.get("AlarmActions")):
                yield p

    def _age_alarm(self) -> bool:
        limit = self.spec.max_backup_age_hours * 3600
        for p in self._alarms():
            name, op = str(p.get("MetricName", "")), str(p.get("ComparisonOperator", ""))
            window = _num(p.get("Period", 0)) * _num(p.get("EvaluationPeriods", 1))
            if (
                name == "NumberOfBackupJobsCompleted" and op.startswith("LessThan")
                and 0 < window <= limit and p.get("TreatMissingData") == "breaching"
            ):  # fmt: skip
                return True
            if "age" in name.lower() and op.startswith("GreaterThan"):
                scale = 1.0 if "second" in name.lower() else 3600.0 if "hour" in name.lower() else 0.0
                if scale and _num(p.get("Threshold", 1e18), 1e18) * scale <= limit:
                    return True
        return False

    def _job_alarm(self, state: str) -> bool:
        for p in self._alarms():
            if p.get("MetricName") == f"NumberOfBackupJobs{state}" and str(
                p.get("ComparisonOperator", "")
            ).startswith("GreaterThan"):
                return True
        for lid, _ in self.t.resources("AWS::Events::Rule"):
            p = self.props(lid)
            pattern = p.get("EventPattern") or {}
            states = (pattern.get("detail") or {}).get("state") or []
            targets = [t.get("Arn") for t in p.get("Targets") or []]
            if (
                "aws.backup" in (pattern.get("source") or [])
                and state.upper() in states
                and self._to_topic(targets)
            ):
                return True
        return False


@check_family(
    "posture",
    "template",
    emits=(
        *("S3001", "S3002", "S3003", "S3004", "S3005", "S3006", "SCHED001", "SCHED002", "SCHED003"),
        *("DB001", "DB002", "DB003", "DB004", "DB005", "DB006", "DB007"),
        "TF000",  # a Terraform module that cannot be parsed (reported while loading it for these rules)
    ),
)
def check_posture(template: Template, resolver: Resolver, spec: GateSpec) -> list[Finding]:
    posture = Posture(template, resolver, spec)
    return [*posture.buckets(), *posture.schedules(), *posture.databases()]
