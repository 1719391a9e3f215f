"""Manifest profiles: where a manifest keeps what the validator needs, whoever wrote it.

The harness's own manifest is the built-in ``harness`` profile (checked against
``manifest.schema.json``). A version-2 contract may declare another application's shape instead:
which field lists the entity files (a map, or a list of objects that may also carry each file's
count and checksum), where counts and checksums are and how checksums are written (``sha256:<hex>``,
bare hex, base64), the generated-at field and its form, the schema-version field (a string or a
number), omitted entities (objects or plain names), redactions (a map or ``entity.field`` strings) and
which extra fields are allowed. :func:`read_view` turns a manifest into one normalised
:class:`ManifestView` plus the places where it does not have the profile's shape.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError

CHECKSUM_FORMATS = ("sha256", "hex", "base64")
GENERATED_FORMS = ("rfc3339", "epoch_s", "epoch_ms")
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class ManifestProfile:
    name: str = "harness"
    schema_version: str = "schema_version"
    generated_at: str = "generated_at"
    generated_form: str = "rfc3339"
    files: str = "entity_files"
    files_shape: str = "map"  # map: entity -> file | list: objects with the keys below
    item_entity: str = "entity"
    item_file: str = "file"
    item_count: str | None = None
    item_checksum: str | None = None
    counts: str | None = "entity_counts"  # entity -> count
    checksums: str | None = "checksums"  # keyed by file (or entity) -> checksum
    checksums_keyed_by: str = "file"
    checksum_format: str = "sha256"
    omitted: str | None = "omitted_entities"
    omitted_shape: str = "objects"  # objects: [{entity, reason}] | names: ["sessions"]
    redactions: str | None = "redactions"
    redactions_shape: str = "map"  # map: entity -> [field] | dotted: ["users.passwordHash"]
    extra_fields: tuple[str, ...] | None = None  # None: any extra field is allowed
    contract: str | None = "contract"  # where the harness's manifest names its contract

    @property
    def builtin(self) -> bool:
        return self.name == "harness"

    def known_fields(self) -> set[str]:
        named = (self.schema_version, self.generated_at, self.files, self.counts, self.checksums)
        return {f for f in (*named, self.omitted, self.redactions, self.contract) if f}


HARNESS_PROFILE = ManifestProfile()


def parse_profile(raw: Any, where: str) -> ManifestProfile:
    """A profile from the contract's ``manifest`` setting (already schema-checked)."""
    if raw in (None, "harness"):
        return HARNESS_PROFILE
    files = raw["files"]
    checksums = raw.get("checksums") or {}
    omitted = raw.get("omitted") or {}
    redactions = raw.get("redactions") or {}
    generated = raw["generated_at"]
    extra = raw.get("extra_fields", "any")
    profile = ManifestProfile(
        name="custom",
        schema_version=raw["schema_version"]["field"],
        generated_at=generated["field"],
        generated_form=generated.get("form", "rfc3339"),
        files=files["field"],
        files_shape=files.get("shape", "map"),
        item_entity=files.get("entity", "entity"),
        item_file=files.get("file", "file"),
        item_count=files.get("count"),
        item_checksum=files.get("checksum"),
        counts=(raw.get("counts") or {}).get("field"),
        checksums=checksums.get("field"),
        checksums_keyed_by=checksums.get("keyed_by", "file"),
        checksum_format=raw.get("checksum_format", "sha256"),
        omitted=omitted.get("field"),
        omitted_shape=omitted.get("shape", "names"),
        redactions=redactions.get("field"),
        redactions_shape=redactions.get("shape", "dotted"),
        extra_fields=None if extra == "any" else tuple(extra),
        contract=None,
    )
    if profile.files_shape == "map" and (profile.item_count or profile.item_checksum):
        raise ConfigError(f"{where}: manifest.files: count and checksum go in list items only")
    if not (profile.counts or profile.item_count):
        raise ConfigError(f"{where}: manifest: say where the counts are (counts.field or files.count)")
    if not (profile.checksums or profile.item_checksum):
        raise ConfigError(
            f"{where}: manifest: say where the checksums are (checksums.field or files.checksum)"
        )
    return profile


def normal_checksum(value: Any, form: str) -> str | None:
    """A checksum in the profile's ``form`` as lower-case hex, or None when it is not one."""
    if not isinstance(value, str):
        return None
    if form == "sha256":
        if not value.startswith("sha256:"):
            return None
        value = value[7:]
    elif form == "base64":
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        return raw.hex() if len(raw) == 32 else None
    return value if len(value) == 64 and set(value) <= _HEX else None


@dataclass
class ManifestView:
    """What the validator needs from a manifest, however it was written. A part the manifest does not
    have in the profile's shape is left out (and named in ``problems``)."""

    entity_files: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)  # file -> hex
    bad_checksums: set[str] = field(default_factory=set)  # files whose checksum is not in the format
    generated_at: Any = None
    schema_version: str | None = None
    omitted: set[str] | None = None
    redactions: dict[str, set[str]] | None = None
    contract: dict[str, Any] | None = None
    problems: list[tuple[list[Any], str]] = field(default_factory=list)  # (path, what is wrong)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_view(manifest: dict[str, Any], profile: ManifestProfile) -> ManifestView:
    view = ManifestView()
    problems = view.problems

    def mapping(name: str | None, item: type) -> dict[str, Any]:
        if name is None:
            return {}
        value = manifest.get(name)
        if value is None:
            problems.append(([name], "missing"))
            return {}
        if not isinstance(value, dict):
            problems.append(([name], "not an object"))
            return {}
        good = {}
        for key, entry in value.items():
            if item is int and not (_int(entry) and entry >= 0):
                problems.append(([name, key], "not a count (a non-negative integer)"))
            elif item is str and not isinstance(entry, str):
                problems.append(([name, key], "not a string"))
            else:
                good[key] = entry
        return good

    if profile.files_shape == "list":
        items = manifest.get(profile.files)
        if not isinstance(items, list):
            problems.append(([profile.files], "missing or not a list"))
            items = []
        for i, item in enumerate(items):
            entity = item.get(profile.item_entity) if isinstance(item, dict) else None
            file = item.get(profile.item_file) if isinstance(item, dict) else None
            if not isinstance(entity, str) or not isinstance(file, str):
                problems.append(
                    ([profile.files, i], f"needs string {profile.item_entity!r} and {profile.item_file!r}")
                )
                continue
            view.entity_files[entity] = file
            if profile.item_count:
                count = item.get(profile.item_count)
                if _int(count) and count >= 0:
                    view.counts[entity] = count
                elif count is not None:
                    problems.append(([profile.files, i, profile.item_count], "not a count"))
            if profile.item_checksum and profile.item_checksum in item:
                _checksum(view, file, item[profile.item_checksum], profile, [profile.files, i])
    else:
        view.entity_files = mapping(profile.files, str)
    if profile.counts:
        view.counts.update(mapping(profile.counts, int))
    if profile.checksums:
        by_entity = profile.checksums_keyed_by == "entity"
        for key, value in mapping(profile.checksums, str).items():
            file = view.entity_files.get(key, f"<{key}>") if by_entity else key
            _checksum(view, file, value, profile, [profile.checksums, key])
    version = manifest.get(profile.schema_version)
    if isinstance(version, str | int) and not isinstance(version, bool):
        view.schema_version = str(version)
    else:
        problems.append(([profile.schema_version], "missing, or not a string or number"))
    view.generated_at = manifest.get(profile.generated_at)
    if view.generated_at is None:
        problems.append(([profile.generated_at], "missing"))
    view.omitted = _omitted(manifest, profile, problems)
    view.redactions = _redactions(manifest, profile, problems)
    if profile.contract and isinstance(manifest.get(profile.contract), dict):
        view.contract = manifest[profile.contract]
    if profile.extra_fields is not None:
        allowed = profile.known_fields() | set(profile.extra_fields)
        for name in manifest:
            if name not in allowed:
                problems.append(([name], "a field the manifest profile does not allow"))
    return view


def _checksum(view: ManifestView, file: str, value: Any, profile: ManifestProfile, where: list[Any]) -> None:
    normal = normal_checksum(value, profile.checksum_format)
    if normal is None:
        view.bad_checksums.add(file)
        view.problems.append((where, f"not a {profile.checksum_format} checksum"))
    else:
        view.checksums[file] = normal


def _omitted(
    manifest: dict[str, Any], profile: ManifestProfile, problems: list[tuple[list[Any], str]]
) -> set[str] | None:
    if not profile.omitted:
        return None
    raw = manifest.get(profile.omitted)
    if raw is None:
        return set()
    if not isinstance(raw, list):
        problems.append(([profile.omitted], "not a list"))
        return set()
    names: set[str] = set()
    for i, item in enumerate(raw):
        name = (
            item
            if profile.omitted_shape == "names"
            else item.get("entity")
            if isinstance(item, dict)
            else None
        )
        if isinstance(name, str):
            names.add(name)
        else:  # an entry not understood is never skipped quietly
            shape = (
                "an entity name" if profile.omitted_shape == "names" else "an object with a string 'entity'"
            )
            problems.append(([profile.omitted, i], f"not {shape}"))
    return names


def _redactions(
    manifest: dict[str, Any], profile: ManifestProfile, problems: list[tuple[list[Any], str]]
) -> dict[str, set[str]] | None:
    if not profile.redactions:
        return None
    raw = manifest.get(profile.redactions)
    out: dict[str, set[str]] = {}
    if raw is None:
        return out
    if profile.redactions_shape == "dotted":
        if not isinstance(raw, list):
            problems.append(([profile.redactions], "not a list of entity.field"))
            return out
        for i, item in enumerate(raw):
            entity, dot, fld = item.partition(".") if isinstance(item, str) else ("", "", "")
            if not dot or not entity or not fld:
                problems.append(([profile.redactions, i], "not entity.field"))
                continue
            out.setdefault(entity, set()).add(fld)
        return out
    if not isinstance(raw, dict):
        problems.append(([profile.redactions], "not an object"))
        return out
    for entity, fields in raw.items():
        if isinstance(fields, list) and all(isinstance(f, str) for f in fields):
            out[entity] = set(fields)
        else:
            problems.append(([profile.redactions, entity], "not a list of field names"))
    return out
