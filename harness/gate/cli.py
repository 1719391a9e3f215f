"""``drill gate``: run the gate and render the report (exit 0 passed, 1 violations, 2 could not run)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import EXIT_NOT_VERIFIED, EXIT_VERIFIED

if TYPE_CHECKING:
    from harness.commands import AddCommand
    from harness.gate.runner import GateReport


def register(add: AddCommand) -> None:
    """Add ``drill gate`` to the command line."""
    gate = add("gate", cmd_gate, "least-privilege PR gate: IAM, OIDC trust, workflows, posture, cfn-lint")
    gate.add_argument("inputs", nargs="+", metavar="TEMPLATES_OR_WORKFLOWS", help="files or directories")
    gate.add_argument("--spec", help="policy spec YAML (without it only the generic rules run)")
    gate.add_argument("--format", choices=["text", "json", "sarif", "markdown"], default="text")
    gate.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")


def cmd_gate(args: argparse.Namespace) -> int:
    return run_gate_command(args.inputs, spec=args.spec, fmt=args.format, output=args.output)


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


def run_gate_command(inputs: Sequence[str], *, spec: str | None, fmt: str, output: str | None) -> int:
    from harness.gate.runner import run_gate
    from harness.gate.spec import load_spec
    from harness.gate.summary import to_text

    report = run_gate(load_spec(spec), inputs)
    text = render(report, fmt)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
        sys.stdout.write(to_text(report).splitlines()[-1] + f" (report: {output})\n")
    else:
        sys.stdout.write(text)
    return EXIT_VERIFIED if report.passed else EXIT_NOT_VERIFIED
