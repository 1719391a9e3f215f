"""The block pre-filter (one RE2 pass over many JSONL lines) lets through every line the line
pre-filter would, so it can never hide a secret from the scanner; and it stays linear on hostile
blocks."""

from __future__ import annotations

import time

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.secrets import lines_that_might_hold_secrets, might_hold_secret
from tests.test_secrets import BENIGN, CASES
from tests.test_secrets_strict import MORE_SHAPES

_PIECES = [value for value, _ in CASES + MORE_SHAPES] + BENIGN
_PIECES += ["Password", "x_TOKEN", "tokens", "api-key", "API\u00a0Key", "pass\u017fword"]
_PIECES += ["\\u0041", "\\/", "$", "A" * 40, "aB3" * 11, "ab" * 20, "AB12" * 9]
_PIECES += ["k1" * 16 + "Q", "Q" + "k1" * 16, "x" + "Q" + "k1" * 16]  # the upper case at a run's end
_TEXT = st.one_of(
    st.sampled_from(_PIECES),
    st.text(max_size=40),
    st.text(alphabet="AZaz09+/_=-", min_size=28, max_size=40),
    st.lists(st.sampled_from(_PIECES), max_size=3).map(" ".join),
)
_RECORDS = st.dictionaries(
    st.one_of(st.sampled_from(["id", "note", "password", "meta", "aws_secret", "x"]), _TEXT),
    st.one_of(
        _TEXT,
        st.integers(-(2**63), 2**63 - 1),
        st.lists(_TEXT, max_size=2),
        st.dictionaries(_TEXT, _TEXT, max_size=2),
    ),
    max_size=4,
)


def _body(records: list[dict[str, object]], last_newline: bool, blank: bool) -> tuple[bytes, list[str]]:
    lines = [orjson.dumps(r).decode() + "\n" for r in records]
    if blank:  # hostile files have empty lines too
        lines = [x for line in lines for x in ("\n", line)]
    if lines and not last_newline:
        lines[-1] = lines[-1][:-1]
    return "".join(lines).encode(), lines


@settings(max_examples=1500, deadline=None)
@given(records=st.lists(_RECORDS, max_size=8), last_newline=st.booleans(), blank=st.booleans())
def test_every_line_the_line_prefilter_passes_is_in_the_blocks_answer(
    records: list[dict[str, object]], last_newline: bool, blank: bool
) -> None:
    body, lines = _body(records, last_newline, blank)
    flagged = list(lines_that_might_hold_secrets(body))
    assert flagged == sorted(set(flagged)) and all(0 <= i < len(lines) for i in flagged)
    for index, line in enumerate(lines):
        if might_hold_secret(line):
            assert index in flagged, (index, line)


def test_each_known_secret_is_flagged_on_its_own_line_among_clean_ones() -> None:
    clean = orjson.dumps({"id": 1, "note": "nothing to see"}) + b"\n"
    for value, kind in CASES + MORE_SHAPES:
        body = clean * 3 + orjson.dumps({"id": 2, "note": value}) + b"\n" + clean * 2
        assert 3 in list(lines_that_might_hold_secrets(body)), kind
    assert list(lines_that_might_hold_secrets(clean * 1000)) == []


def test_hostile_blocks_take_linear_time() -> None:
    for piece in (b"A" * 31 + b" ", b"apikey" * 5, b"a" * 1000 + b"Z", b"{" * 64, b"\\" * 7):
        body = (piece * ((1 << 20) // len(piece)))[: 1 << 20]
        started = time.perf_counter()
        list(lines_that_might_hold_secrets(body))
        assert time.perf_counter() - started < 5.0  # generous: RE2 is linear; a backtracker is not
