"""Translate the backup-relevant Terraform resources into the CloudFormation shapes of the posture rules.

==========================================================  ==============================================
Terraform                                                   becomes
==========================================================  ==============================================
``aws_s3_bucket`` (+ ``lifecycle { prevent_destroy }``)     ``AWS::S3::Bucket`` (Retain when prevent_destroy)
``aws_s3_bucket_versioning`` / ``_server_side_encryption_``  its bucket's ``VersioningConfiguration`` /
``configuration`` / ``_public_access_block`` /              ``BucketEncryption`` / ``PublicAccessBlock…`` /
``_lifecycle_configuration``                                ``LifecycleConfiguration``
``aws_db_instance`` / ``aws_rds_cluster``                   ``AWS::RDS::DBInstance`` / ``DBCluster``
``aws_dynamodb_table``                                      ``AWS::DynamoDB::Table``
``aws_backup_plan`` / ``aws_backup_selection``              ``AWS::Backup::BackupPlan`` / ``BackupSelection``
``aws_cloudwatch_metric_alarm``, ``aws_sns_topic``          ``AWS::CloudWatch::Alarm``, ``AWS::SNS::Topic``
``aws_cloudwatch_event_rule`` + ``_event_target``           ``AWS::Events::Rule`` with ``Targets``
``aws_lambda_function``, ``aws_scheduler_schedule``         ``AWS::Lambda::Function``, ``…::Schedule``
==========================================================  ==============================================

Logical ids are Terraform addresses (``aws_s3_bucket.archive``, ``module.db.aws_db_instance.main``);
``Template.origins`` records the ``.tf`` file and line of every translated property.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.gate.findings import Finding
from harness.gate.templates import Template
from harness.gate.terraform import Block, Module

_SIMPLE = {
    "aws_db_instance": (
        "AWS::RDS::DBInstance",
        {"backup_retention_period": "BackupRetentionPeriod", "deletion_protection": "DeletionProtection"},
    ),
    "aws_rds_cluster": (
        "AWS::RDS::DBCluster",
        {"backup_retention_period": "BackupRetentionPeriod", "deletion_protection": "DeletionProtection"},
    ),
    "aws_dynamodb_table": (
        "AWS::DynamoDB::Table",
        {"deletion_protection_enabled": "DeletionProtectionEnabled"},
    ),
    "aws_sns_topic": ("AWS::SNS::Topic", {"name": "TopicName"}),
    "aws_lambda_function": ("AWS::Lambda::Function", {"function_name": "FunctionName"}),
    "aws_cloudwatch_metric_alarm": (
        "AWS::CloudWatch::Alarm",
        {
            "metric_name": "MetricName",
            "namespace": "Namespace",
            "comparison_operator": "ComparisonOperator",
            "period": "Period",
            "evaluation_periods": "EvaluationPeriods",
            "threshold": "Threshold",
            "treat_missing_data": "TreatMissingData",
            "alarm_actions": "AlarmActions",
        },
    ),
    "aws_s3_bucket": ("AWS::S3::Bucket", {"bucket": "BucketName"}),
}
_PAB = {
    "block_public_acls": "BlockPublicAcls",
    "block_public_policy": "BlockPublicPolicy",
    "ignore_public_acls": "IgnorePublicAcls",
    "restrict_public_buckets": "RestrictPublicBuckets",
}


class _Translation:
    def __init__(self, root: Module) -> None:
        self.root = root
        self.resources: dict[str, dict[str, Any]] = {}
        self.origins: dict[tuple[str, str], tuple[Path, int]] = {}

    def add(self, addr: str, cfn_type: str, block: Block) -> dict[str, Any]:
        self.resources[addr] = {"Type": cfn_type, "Properties": {}}
        self.origins[addr, ""] = (block.file, block.line)
        props: dict[str, Any] = self.resources[addr]["Properties"]
        return props

    def put(self, addr: str, key: str, value: Any, where: tuple[Path, int]) -> None:
        self.resources[addr]["Properties"][key] = value
        self.origins[addr, key] = where

    @staticmethod
    def attr(m: Module, block: Block, name: str) -> Any:
        return m.value(block.attrs[name][0]) if name in block.attrs else None

    def _bucket_of(self, m: Module, block: Block) -> str | None:
        ref = self.attr(m, block, "bucket")
        if isinstance(ref, dict) and isinstance(ref.get("Ref"), str) and ref["Ref"] in self.resources:
            return str(ref["Ref"])
        for addr, res in self.resources.items():
            if (
                ref is not None
                and res["Type"] == "AWS::S3::Bucket"
                and res["Properties"].get("BucketName") == ref
            ):
                return addr
        return None

    # -- per resource type -------------------------------------------------------------------------
    def simple(self, m: Module, block: Block, addr: str) -> None:
        cfn_type, mapping = _SIMPLE[block.labels[0]]
        self.add(addr, cfn_type, block)
        for tf_name, cfn_name in mapping.items():
            if tf_name in block.attrs:
                self.put(addr, cfn_name, self.attr(m, block, tf_name), (block.file, block.attrs[tf_name][1]))
        if block.labels[0] == "aws_s3_bucket":
            self._bucket_extras(m, block, addr)
        if block.labels[0] == "aws_dynamodb_table":
            for pitr in block.children("point_in_time_recovery"):
                value = {"PointInTimeRecoveryEnabled": self.attr(m, pitr, "enabled")}
                self.put(addr, "PointInTimeRecoverySpecification", value, (block.file, pitr.line))

    def _bucket_extras(self, m: Module, block: Block, addr: str) -> None:
        tags = self.attr(m, block, "tags")
        if isinstance(tags, dict):
            tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
            self.put(addr, "Tags", tag_list, (block.file, block.attrs["tags"][1]))
        for lifecycle in block.children("lifecycle"):
            if self.attr(m, lifecycle, "prevent_destroy") is True:
                line = lifecycle.attrs["prevent_destroy"][1]
                self.resources[addr]["DeletionPolicy"] = self.resources[addr]["UpdateReplacePolicy"] = (
                    "Retain"
                )
                self.origins[addr, "DeletionPolicy"] = self.origins[addr, "UpdateReplacePolicy"] = (
                    block.file,
                    line,
                )

    def bucket_part(self, m: Module, block: Block) -> None:
        bucket = self._bucket_of(m, block)
        if bucket is None:
            return
        kind = block.labels[0].removeprefix("aws_s3_bucket_")
        where = (block.file, block.line)
        if kind == "versioning":
            for conf in block.children("versioning_configuration"):
                status = self.attr(m, conf, "status")
                line = conf.attrs["status"][1] if "status" in conf.attrs else conf.line
                self.put(bucket, "VersioningConfiguration", {"Status": status}, (block.file, line))
        elif kind == "server_side_encryption_configuration":
            rules = []
            for rule in block.children("rule"):
                for default in rule.children("apply_server_side_encryption_by_default"):
                    algorithm = self.attr(m, default, "sse_algorithm")
                    rules.append({"ServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}})
                    where = (block.file, default.attrs.get("sse_algorithm", (None, default.line))[1])
            self.put(bucket, "BucketEncryption", {"ServerSideEncryptionConfiguration": rules}, where)
        elif kind == "public_access_block":
            flags = {cfn: self.attr(m, block, tf) for tf, cfn in _PAB.items() if tf in block.attrs}
            self.put(bucket, "PublicAccessBlockConfiguration", flags, where)
        elif kind == "lifecycle_configuration":
            rules = []
            for rule in block.children("rule"):
                entry: dict[str, Any] = {"Status": self.attr(m, rule, "status")}
                for child in rule.blocks:
                    if child.kind.startswith("noncurrent_version_"):
                        entry[
                            "NoncurrentVersion" + child.kind.removeprefix("noncurrent_version_").title()
                        ] = {}
                rules.append(entry)
            self.put(bucket, "LifecycleConfiguration", {"Rules": rules}, where)

    def backup_plan(self, m: Module, block: Block, addr: str) -> None:
        self.add(addr, "AWS::Backup::BackupPlan", block)
        rules = []
        for rule in block.children("rule"):
            entry: dict[str, Any] = {}
            if "schedule" in rule.attrs:
                entry["ScheduleExpression"] = self.attr(m, rule, "schedule")
            for lifecycle in rule.children("lifecycle"):
                entry["Lifecycle"] = {"DeleteAfterDays": self.attr(m, lifecycle, "delete_after")}
            rules.append(entry)
        where = (block.file, block.children("rule")[0].line if block.children("rule") else block.line)
        self.put(addr, "BackupPlan", {"BackupPlanRule": rules}, where)

    def backup_selection(self, m: Module, block: Block, addr: str) -> None:
        self.add(addr, "AWS::Backup::BackupSelection", block)
        self.put(addr, "BackupPlanId", self.attr(m, block, "plan_id"), (block.file, block.line))
        tags = [
            {"ConditionKey": self.attr(m, t, "key"), "ConditionValue": self.attr(m, t, "value")}
            for t in block.children("selection_tag")
        ]
        selection = {"Resources": self.attr(m, block, "resources") or [], "ListOfTags": tags}
        self.put(addr, "BackupSelection", selection, (block.file, block.line))

    def event_rule(self, m: Module, block: Block, addr: str) -> None:
        props = self.add(addr, "AWS::Events::Rule", block)
        names = (
            ("name", "Name"),
            ("event_pattern", "EventPattern"),
            ("schedule_expression", "ScheduleExpression"),
        )
        for tf_name, cfn_name in names:
            if tf_name in block.attrs:
                self.put(addr, cfn_name, self.attr(m, block, tf_name), (block.file, block.attrs[tf_name][1]))
        disabled = (
            self.attr(m, block, "is_enabled") is False or str(self.attr(m, block, "state")) == "DISABLED"
        )
        if disabled:
            key = "is_enabled" if "is_enabled" in block.attrs else "state"
            self.put(addr, "State", "DISABLED", (block.file, block.attrs[key][1]))
        props.setdefault("Targets", [])

    def event_target(self, m: Module, block: Block) -> None:
        rule = self.attr(m, block, "rule")
        target = rule.get("Ref") if isinstance(rule, dict) else None
        for addr, res in self.resources.items():
            if res["Type"] == "AWS::Events::Rule" and (
                addr == target or res["Properties"].get("Name") == rule
            ):
                res["Properties"].setdefault("Targets", []).append({"Arn": self.attr(m, block, "arn")})

    def schedule(self, m: Module, block: Block, addr: str) -> None:
        self.add(addr, "AWS::Scheduler::Schedule", block)
        if "schedule_expression" in block.attrs:
            where = (block.file, block.attrs["schedule_expression"][1])
            self.put(addr, "ScheduleExpression", self.attr(m, block, "schedule_expression"), where)
        if "state" in block.attrs:
            self.put(addr, "State", self.attr(m, block, "state"), (block.file, block.attrs["state"][1]))
        for target in block.children("target"):
            self.put(addr, "Target", {"Arn": self.attr(m, target, "arn")}, (block.file, target.line))


def translate(root: Module) -> Template:
    t = _Translation(root)
    later: list[tuple[Module, Block]] = []
    for m in root.all_modules():
        for block in m.resources:
            rtype, name = block.labels
            addr = m.address(rtype, name)
            if rtype in _SIMPLE:
                t.simple(m, block, addr)
            elif rtype == "aws_backup_plan":
                t.backup_plan(m, block, addr)
            elif rtype == "aws_backup_selection":
                t.backup_selection(m, block, addr)
            elif rtype == "aws_cloudwatch_event_rule":
                t.event_rule(m, block, addr)
            elif rtype == "aws_scheduler_schedule":
                t.schedule(m, block, addr)
            elif rtype.startswith("aws_s3_bucket_") or rtype == "aws_cloudwatch_event_target":
                later.append((m, block))
    for m, block in later:  # parts that refer to a bucket or rule declared anywhere in the set
        if block.labels[0] == "aws_cloudwatch_event_target":
            t.event_target(m, block)
        else:
            t.bucket_part(m, block)
    template = Template(root.directory, {"Resources": t.resources}, lintable=False, origins=t.origins)
    return template


def load_modules(directories: Sequence[Path]) -> tuple[list[Template], list[Finding]]:
    """One translated template per root module (modules called by another given one are not roots)."""
    templates: list[Template] = []
    findings: list[Finding] = []
    roots: list[Module] = []
    for directory in directories:
        try:
            roots.append(Module(directory))
        except Exception as exc:
            msg = f"cannot parse the Terraform module: {type(exc).__name__}"
            findings.append(Finding(str(directory), 1, "TF000", "error", "", msg))
    called = {m.directory for root in roots for m in root.all_modules()[1:]}
    for root in roots:
        if root.directory.resolve() not in called:
            templates.append(translate(root))
    return templates, findings
