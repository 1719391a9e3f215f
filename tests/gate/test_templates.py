"""Template loading through cfn-lint's decoder and our intrinsic resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.gate.templates import Resolver, key_line, load_template
from tests.gate.helpers import APP, ROLE, line_of

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Stack:
    Type: String
    Default: app-v1
  Stage:
    Type: String
    AllowedValues: [dev, prod]
    Default: dev
  Zones:
    Type: CommaDelimitedList
    Default: "a, b, c"
  Unset:
    Type: String
Mappings:
  Retention:
    dev: {days: 7}
    prod: {days: 30}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub ${Stack}-archive-${AWS::AccountId}
  Topic:
    Type: AWS::SNS::Topic
  Values:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: x
      Tags:
        sub: !Sub "arn:${AWS::Partition}:s3:::${Bucket}/*"
        getatt: !GetAtt Bucket.Arn
        subatt: !Sub "${Bucket.Arn}/exports/*"
        join: !Join ["-", [!Ref Stack, !Ref Stage]]
        select: !Select [1, !Ref Zones]
        if: !If [IsProd, big, small]
        map: !FindInMap [Retention, !Ref Stage, days]
        unset: !Sub "x-${Unset}"
        topic: !Ref Topic
        literal: !Sub "arn:aws:s3:::b/${!aws:username}"
        novalue: !Ref AWS::NoValue
        region: !Ref AWS::Region
"""


@pytest.fixture
def tags(tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE)
    template = load_template(path)
    assert template.parse_findings == []
    resolver = Resolver(template, {"AWS::AccountId": "111122223333", "AWS::Region": "eu-west-1"})
    props = resolver.resolve(template.properties("Values"))
    assert isinstance(props, dict)
    return dict(props["Tags"])


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("sub", "arn:aws:s3:::app-v1-archive-111122223333/*"),
        ("getatt", "arn:aws:s3:::app-v1-archive-111122223333"),
        ("subatt", "arn:aws:s3:::app-v1-archive-111122223333/exports/*"),
        ("join", "app-v1-dev"),
        ("select", "b"),
        ("if", "small"),
        ("map", 7),
        ("unset", "x-{{unresolved:Ref:Unset}}"),
        ("topic", "arn:aws:sns:eu-west-1:111122223333:{{unresolved:Topic.Name}}"),
        ("literal", "arn:aws:s3:::b/${aws:username}"),
        ("region", "eu-west-1"),
    ],
)
def test_resolution(tags: dict[str, object], key: str, expected: object) -> None:
    assert tags[key] == expected


def test_no_value_is_dropped(tags: dict[str, object]) -> None:
    assert "novalue" not in tags


def test_overrides_win_over_defaults(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE)
    template = load_template(path)
    resolver = Resolver(template, {"Stage": "prod"})
    tags = resolver.resolve(template.properties("Values"))["Tags"]
    assert (tags["if"], tags["map"], tags["join"]) == ("big", 30, "app-v1-prod")


def test_line_numbers_survive_decoding() -> None:
    template = load_template(ROLE)
    assert template.resource_line("DeployRole") == line_of(ROLE, "  DeployRole:")
    assert load_template(APP).is_sam()


def test_decode_error_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("Resources:\n  A: [unclosed\n")
    template = load_template(path)
    (finding,) = template.parse_findings
    assert finding.rule == "GATE001" and finding.line == 3 and finding.severity == "error"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Resources:\n  A:\n    Type: x\n  A:\n    Type: y\n", "duplicate key"),
        ("Resources:\n  A: &a {Type: x}\n  B: *a\n", "aliases"),
        ("Resources:\n  A: !Nope x\n", "unknown tag"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_unreadable_templates_are_refused(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    (finding,) = load_template(path).parse_findings
    assert finding.rule == "GATE001" and why in finding.message


def test_short_forms_and_lines_match_cfn_lint(tmp_path: Path) -> None:
    from cfnlint.decode import decode  # type: ignore[import-untyped]

    from tests.gate.helpers import APP, DATABASE, ROLE

    for path in (ROLE, APP, DATABASE):
        ours = load_template(path).data
        theirs, _ = decode(str(path))
        assert json.dumps(ours, sort_keys=True, default=str) == json.dumps(
            theirs, sort_keys=True, default=str
        )
        role = ours["Resources"]
        for lid in role:
            assert key_line(role, lid) == key_line(theirs["Resources"], lid)
