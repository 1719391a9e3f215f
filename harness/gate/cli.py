"""``drill gate``: run the gate and render the report (exit 0 passed, 1 violations, 2 could not run)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import EXIT_NOT_VERIFIED, EXIT_VERIFIED, ConfigError

if TYPE_CHECKING:
    from harness.commands import AddCommand
    from harness.gate.runner import GateReport


def register(add: AddCommand) -> None:
    """Add ``drill gate`` to the command line."""
    gate = add(
        "gate", cmd_gate,
        "least-privilege PR gate: IAM, OIDC trust, workflows, backup posture (CloudFormation/SAM and "
        "Terraform), cfn-lint, live drift; exit 0 passed, 1 violations, 2 could not run",
    )  # fmt: skip
    gate.add_argument(
        "inputs", nargs="+", metavar="PATH",
        help="templates, workflows, or directories (walked: *.tf directories are Terraform modules; "
        "files that are none of these are skipped with a note)",
    )  # fmt: skip
    gate.add_argument("--spec", help="policy spec YAML (without it only the generic rules run)")
    gate.add_argument(
        "--format", choices=["text", "json", "sarif", "markdown"], default="text",
        help="text (default), json (report with counts), sarif (2.1.0, code scanning), markdown (summary)",
    )  # fmt: skip
    gate.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    live = gate.add_argument_group(
        "live drift",
        "read the deployed role (spec 'live: {role_name: ...}') with read-only IAM calls "
        "(iam:GetRole, ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies, GetPolicy, "
        "GetPolicyVersion) and diff it against the template",
    )
    live.add_argument("--live", action="store_true", help="check the deployed role too")
    live.add_argument("--aws-provider", choices=["aws", "localstack"], help="default: aws (the boto3 chain)")
    live.add_argument("--endpoint-url", help="a LocalStack-style endpoint (with --aws-provider localstack)")
    live.add_argument("--region", help="default: AWS_REGION, else the spec's AWS::Region")


def cmd_gate(args: argparse.Namespace) -> int:
    return run_gate_command(
        args.inputs, spec=args.spec, fmt=args.format, output=args.output,
        live=args.live, provider=args.aws_provider, endpoint_url=args.endpoint_url, region=args.region,
    )  # fmt: skip


def render(report: GateReport, fmt: str) -> str:
    from harness.gate.sarif import sarif_text
    from harness.gate.summary import to_markdown, to_text

    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if fmt == "sarif":
        return sarif_text(report) + "\n"
    if fmt == "markdown":
        return to_markdown(report)
    return to_text(report) + "\n"


def run_gate_command(
    inputs: Sequence[str],
    *,
    spec: str | None,
    fmt: str,
    output: str | None,
    live: bool = False,
    provider: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> int:
    from harness.gate.runner import run_gate
    from harness.gate.spec import load_spec
    from harness.gate.summary import to_text

    gate_spec = load_spec(spec)
    if live:
        import os

        from harness.aws.oneoff import endpoint_for
        from harness.gate.live import LiveReader

        if gate_spec.live is None:
            raise ConfigError(f"{spec or 'no spec'}: --live needs a spec with 'live: {{role_name: ...}}'")
        region = region or os.environ.get("AWS_REGION") or str(gate_spec.parameters.get("AWS::Region", ""))
        with endpoint_for(provider or "aws", region or None, endpoint_url) as endpoint:
            report = run_gate(gate_spec, inputs, live=LiveReader(endpoint))
    else:
        report = run_gate(gate_spec, inputs)
    text = render(report, fmt)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
        sys.stdout.write(to_text(report).splitlines()[-1] + f" (report: {output})\n")
    else:
        sys.stdout.write(text)
    return EXIT_VERIFIED if report.passed else EXIT_NOT_VERIFIED
