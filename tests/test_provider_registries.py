"""The provider registries are the one list of names: the packaged schemas' enums (static JSON) and
every command line's choices must equal them."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from harness.aws.providers import AWS_PROVIDERS, DURABLE_AWS_PROVIDERS
from harness.cli import build_parser
from harness.postgres.providers import PG_PROVIDERS
from tests.conftest import REPO

SCHEMAS = REPO / "harness" / "schemas"
#: Every ``provider`` enum in the packaged schemas, by (file, JSON pointer), and the registry it lists.
PROVIDER_ENUMS = {
    ("scenario.schema.json", "/$defs/postgres/properties/provider"): list(PG_PROVIDERS),
    ("offsite-options.schema.json", "/$defs/aws/properties/provider"): list(AWS_PROVIDERS),
    ("snapshot-config.schema.json", "/$defs/aws/properties/provider"): list(AWS_PROVIDERS),
    ("evidence.schema.json", "/$defs/offsite/properties/provider"): list(AWS_PROVIDERS),
    ("evidence.schema.json", "/$defs/pitr_offsite/properties/provider"): list(AWS_PROVIDERS),
    ("gate-options.schema.json", "/properties/live/properties/provider"): list(AWS_PROVIDERS),
    # not a provider registry: how a snapshot key is wrapped
    ("evidence.schema.json", "/$defs/snapshot/properties/key/properties/provider"): ["kms", "keyfile"],
}


def _provider_enums(node: Any, pointer: str = "") -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{pointer}/{key}"
            if key == "provider" and isinstance(value, dict) and "enum" in value:
                found[where] = value["enum"]
            found.update(_provider_enums(value, where))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.update(_provider_enums(value, f"{pointer}/{index}"))
    return found


def test_every_schema_provider_enum_equals_its_registry() -> None:
    found = {
        (path.name, pointer): enum
        for path in sorted(SCHEMAS.glob("*.schema.json"))
        for pointer, enum in _provider_enums(json.loads(path.read_text())).items()
    }
    assert found == PROVIDER_ENUMS


def _choices(parser: argparse.ArgumentParser, *command: str) -> dict[str, list[str]]:
    for name in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return {
        action.dest: list(action.choices)
        for action in parser._actions
        if action.dest in ("pg_provider", "aws_provider") and action.choices is not None
    }


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("run",), {"pg_provider": list(PG_PROVIDERS), "aws_provider": list(AWS_PROVIDERS)}),
        (("posture",), {"aws_provider": list(AWS_PROVIDERS)}),
        (("upload",), {"aws_provider": list(AWS_PROVIDERS)}),
        (("fetch",), {"aws_provider": list(AWS_PROVIDERS)}),
        # one-off s3:// commands: an ephemeral endpoint would be empty
        (("pg-restore-check",), {"aws_provider": list(DURABLE_AWS_PROVIDERS)}),
        (("snapshot", "create"), {"aws_provider": list(DURABLE_AWS_PROVIDERS)}),
    ],
)
def test_command_line_choices_come_from_the_registries(
    command: tuple[str, ...], expected: dict[str, list[str]]
) -> None:
    assert _choices(build_parser(), *command) == expected


def test_the_durable_providers_are_the_registry_without_the_ephemeral_one() -> None:
    assert DURABLE_AWS_PROVIDERS == ("localstack", "aws")


class _OptionRecorder:
    """Stands in for pytest's parser and option group: records each option's keyword arguments."""

    def __init__(self) -> None:
        self.options: dict[str, dict[str, Any]] = {}

    def getgroup(self, *_: Any) -> _OptionRecorder:
        return self

    def addoption(self, name: str, **attrs: Any) -> None:
        self.options[name] = attrs


def test_the_pytest_options_come_from_the_registries() -> None:
    from harness.plugin import pytest_addoption

    recorder = _OptionRecorder()
    pytest_addoption(recorder)  # type: ignore[arg-type]
    assert recorder.options["--pg-provider"]["choices"] == list(PG_PROVIDERS)
    assert recorder.options["--aws-provider"]["choices"] == list(AWS_PROVIDERS)


def test_registries_name_importable_providers() -> None:
    from harness.registry import load

    for target in PG_PROVIDERS.values():
        assert callable(load(target)), target
    for entry in AWS_PROVIDERS.values():
        assert callable(load(entry.factory)), entry
