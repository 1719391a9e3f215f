"""Shared machinery for the row generators: the timeline, timestamp formatting, seeded file
uuids and the per-table plan (row counts, random streams, parent ratios)."""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from random import Random

from harness.errors import ConfigError

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_US = 365 * 86_400_000_000  # created_at values spread over one year from EPOCH
_HORIZON_HOURS = 4 * 366 * 24  # due dates, expiries and next runs may reach past the span
_HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000
CHUNK_ROWS = 5_000


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


@cache
def _hour_prefixes() -> tuple[str, ...]:
    return tuple((EPOCH + timedelta(hours=h)).strftime("%Y-%m-%dT%H:") for h in range(_HORIZON_HOURS))


_MINUTE_SECONDS = tuple(f"{m:02d}:{s:02d}." for m in range(60) for s in range(60))


def timestamp_formatter() -> Callable[[int], str]:
    """Microseconds after EPOCH → ISO 8601 UTC text with microseconds (``...T12:34:56.123456Z``).

    Hour prefixes are precomputed; ``%`` formatting is markedly faster than an f-string
    with a format spec here, and this runs two or three times per generated row.
    """
    hours = _hour_prefixes()
    minsec = _MINUTE_SECONDS

    def fmt(t: int) -> str:
        s, f = divmod(t, 1_000_000)
        return "%s%s%06dZ" % (hours[s // 3600], minsec[s % 3600], f)  # noqa: UP031

    return fmt


_M122 = (1 << 122) - 1
_MIX1 = 0x9E3779B97F4A7C15F39CC0605CEDC835 & _M122 | 1
_MIX2 = 0xBF58476D1CE4E5B94D2A3B1C9E7F0A63 & _M122 | 1


@cache
def _file_offset(seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:files".encode()).digest()[:16], "big") & _M122


def file_uuid(seed: int, index: int) -> str:
    """The uuid (version 4 layout) of file number ``index`` (1-based) for ``seed``.

    A seeded bijection of the index (add, multiply by odd constants, xor-shift; all modulo
    2**122) fills the 122 free bits, so uuids look random, never collide, and references
    to files can be recomputed from the file number without a lookup table.
    """
    x = (index + _file_offset(seed)) & _M122
    x = (x * _MIX1) & _M122
    x ^= x >> 61
    x = (x * _MIX2) & _M122
    x ^= x >> 59
    u = (x >> 74) << 80 | 0x4 << 76 | ((x >> 62) & 0xFFF) << 64 | 0x2 << 62 | (x & 0x3FFFFFFFFFFFFFFF)
    h = "%032x" % u  # noqa: UP031
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --------------------------------------------------------------------------- table generators
# Each generator yields COPY text-format chunks of up to CHUNK_ROWS lines. The loops are
# written for speed (local aliases, inlined parent picks) because they run per row.


@dataclass(frozen=True)
class Plan:
    seed: int
    counts: dict[str, int]

    def rng(self, table: str) -> Random:
        return Random(f"{self.seed}:{table}")  # noqa: S311 - reproducible fake data, not secrets

    def ratio(self, child: str, parent: str) -> float:
        """Parent ids for child row ``i`` are drawn as ``1 + int(random() * i * ratio)``.

        That is uniform over the parents created up to ``i``'s proportional position; the
        ``- 0.5`` keeps the draw <= the parent count despite float rounding.
        """
        n_parent = self.counts[parent]
        if n_parent < 1:
            raise ConfigError(f"dataset plan has no {parent} for {child} to reference")
        return (n_parent - 0.5) / max(self.counts[child], 1)

    def spans(self, table: str) -> Iterator[range]:
        n = self.counts[table]
        for lo in range(1, n + 1, CHUNK_ROWS):
            yield range(lo, min(lo + CHUNK_ROWS, n + 1))

    def step(self, table: str) -> int:
        """created_at of row i is (i - 1) * step + jitter, jitter < step: strictly increasing with id."""
        return SPAN_US // max(self.counts[table], 1)


def b62(rng: Random, length: int) -> str:
    out = ""
    while len(out) < length:
        out += base64.b64encode(rng.getrandbits(384).to_bytes(48, "big")).decode().translate(_NO_B64_SYMBOLS)
    return out[:length]


_NO_B64_SYMBOLS = str.maketrans("", "", "+/=")
BCRYPT_FROM_B64 = str.maketrans("+", ".")
