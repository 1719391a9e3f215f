"""``drill snapshot restore``: plan against the target, then write with hash checks; idempotent.

The plan compares every manifest entry with what the target holds (content by SHA-256,
permission bits, mtime, link targets) before a byte is written, and refuses symlinked or
conflicting paths there; missing or truncated packs are refused before writing too. Applying
it writes each file to a temporary name in its directory, decrypting and hash-checking every
chunk and the whole file before renaming it into place; permission bits are restored without
setuid/setgid/sticky. Special files (FIFOs, sockets, devices) are recorded in snapshots but
never created. Re-running changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import RefusedError, VerificationFailed
from harness.snapshot.catalog import Opened, check_packs, read_chunk
from harness.snapshot.manifest import SPECIAL_TYPES
from harness.snapshot.store_base import SnapshotReader
from harness.snapshot.targetfs import Target, check_allowed

MODE_BITS = 0o777


@dataclass(frozen=True)
class Action:
    path: str
    type: str
    do: str  # create | update | metadata | unchanged | skip


@dataclass
class RestoreResult:
    id: str
    target: str
    dry_run: bool
    actions: list[Action] = field(default_factory=list)
    bytes_written: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        return dict(Counter(a.do for a in self.actions))

    @property
    def changed(self) -> bool:
        return any(a.do in ("create", "update", "metadata") for a in self.actions)

    def message(self) -> str:
        c = self.counts()
        if not self.changed:
            verb = "would change" if self.dry_run else "changed"
            unchanged = c.get("unchanged", 0)
            return (
                f"target already matches snapshot {self.id}: nothing {verb} ({unchanged} entries unchanged)"
            )
        verb = "would" if self.dry_run else "did"
        parts = ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
        return f"{verb} restore snapshot {self.id} into {self.target}: {parts}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "counts": self.counts(),
            "bytes_written": self.bytes_written,
            "seconds": round(self.seconds, 3),
            "message": self.message(),
        }


def _mode(entry: dict[str, Any]) -> int:
    return int(entry["mode"]) & MODE_BITS


def _plan_entry(target: Target, entry: dict[str, Any], inodes: dict[str, tuple[int, int]]) -> str:
    kind, path = entry["type"], entry["path"]
    if kind in SPECIAL_TYPES:
        return "skip"
    st = target.lstat(path)
    if st is None:
        return "create"
    here = target.root / path
    if kind == "dir":
        if not stat.S_ISDIR(st.st_mode):
            raise target.refusal(path)
        same = stat.S_IMODE(st.st_mode) == _mode(entry) and st.st_mtime_ns == entry["mtime_ns"]
        return "unchanged" if same else "metadata"
    if kind == "symlink":
        if not stat.S_ISLNK(st.st_mode):
            raise RefusedError(f"{here}: exists and is not a symbolic link; refusing to replace it")
        return "unchanged" if target.readlink(path) == entry["target"] else "update"
    if not stat.S_ISREG(st.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise RefusedError(f"{here}: exists and is {what}; refusing to replace it")
    if kind == "hardlink":
        inodes[path] = (st.st_dev, st.st_ino)
        return "unchanged" if inodes.get(entry["target"]) == (st.st_dev, st.st_ino) else "update"
    inodes[path] = (st.st_dev, st.st_ino)
    if st.st_size != entry["size"] or target.sha256(path) != entry["sha256"]:
        return "update"
    same = stat.S_IMODE(st.st_mode) == _mode(entry) and st.st_mtime_ns == entry["mtime_ns"]
    return "unchanged" if same else "metadata"


def plan(opened: Opened, target: Target, only: set[str] | None = None) -> list[Action]:
    """What restoring would do to each entry; raises RefusedError before anything is written."""
    inodes: dict[str, tuple[int, int]] = {}
    planned: dict[str, str] = {}
    actions = []
    for entry in opened.doc["entries"]:
        if only is not None and entry["type"] != "dir" and entry["path"] not in only:
            continue
        do = _plan_entry(target, entry, inodes)
        if entry["type"] == "hardlink" and planned.get(entry["target"]) in ("create", "update"):
            do = "create" if do == "create" else "update"  # its file gets a new inode
        planned[entry["path"]] = do
        actions.append(Action(entry["path"], entry["type"], do))
    return actions


@contextlib.contextmanager
def _replacing(target: Target, path: str) -> Iterator[tuple[int, str]]:
    """Yield ``(parent descriptor, temporary name)`` next to ``path``; on success rename the
    temporary onto ``path`` (replacing it atomically), on failure remove it."""
    with target.at(path, create=True) as (fd, name):
        tmp = f".{name}.drill-restore-{secrets.token_hex(4)}"
        try:
            yield fd, tmp
            os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            raise


def _write_file(target: Target, entry: dict[str, Any], reader: SnapshotReader, opened: Opened) -> int:
    """Decrypt and hash-check every chunk into a temporary file, check the whole file, rename it in."""
    with _replacing(target, entry["path"]) as (fd, tmp):
        handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd)
        whole = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            for index in range(len(entry["chunks"])):
                plain = read_chunk(reader, opened, entry, index)
                whole.update(plain)
                out.write(plain)
            out.flush()
            if out.tell() != entry["size"] or whole.hexdigest() != entry["sha256"]:
                raise VerificationFailed(
                    f"{target.root / entry['path']}: restored bytes do not match the manifest sha256"
                )
            os.fchmod(out.fileno(), _mode(entry))
            os.utime(out.fileno(), ns=(entry["mtime_ns"], entry["mtime_ns"]))
    return int(entry["size"])


def _set_metadata(target: Target, entry: dict[str, Any]) -> None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_DIRECTORY if entry["type"] == "dir" else 0)
    with target.at(entry["path"]) as (fd, name):
        handle = os.open(name, flags, dir_fd=fd)
    try:
        os.fchmod(handle, _mode(entry))
        os.utime(handle, ns=(entry["mtime_ns"], entry["mtime_ns"]))
    finally:
        os.close(handle)


def _link(target: Target, entry: dict[str, Any]) -> None:
    """Create a symlink or hard link under a temporary name, then rename it into place."""
    with _replacing(target, entry["path"]) as (fd, tmp):
        if entry["type"] == "symlink":
            os.symlink(entry["target"], tmp, dir_fd=fd)
            os.utime(tmp, ns=(entry["mtime_ns"], entry["mtime_ns"]), dir_fd=fd, follow_symlinks=False)
        else:
            with target.at(entry["target"]) as (src, name):
                os.link(name, tmp, src_dir_fd=src, dst_dir_fd=fd, follow_symlinks=False)


def restore_snapshot(
    opened: Opened,
    reader: SnapshotReader,
    target: Path,
    allow: Sequence[Path],
    *,
    dry_run: bool = False,
    only: set[str] | None = None,
) -> RestoreResult:
    """Restore (or with ``dry_run`` only plan) ``opened`` into ``target``, which must be allowlisted."""
    started = time.perf_counter()
    real = check_allowed(target, allow)
    if real.exists() and not real.is_dir():
        raise RefusedError(f"restore target {target} exists and is not a directory")
    if not dry_run:
        real.mkdir(parents=True, exist_ok=True)
    fs = Target(real)
    result = RestoreResult(opened.id, str(target), dry_run)
    try:
        result.actions = plan(opened, fs, only)
        writes = any(a.type == "file" and a.do in ("create", "update") for a in result.actions)
        problems = check_packs(reader, opened) if writes and not dry_run else []
        if problems:
            shown = "; ".join(problems[:5])
            raise VerificationFailed(f"snapshot {opened.id}: restore into {target} refused: {shown}")
        if not dry_run:
            entries = {e["path"]: e for e in opened.doc["entries"]}
            for action in result.actions:
                entry = entries[action.path]
                if action.do in ("create", "update"):
                    if action.type == "dir":
                        with fs.at(action.path + "/x", create=True):  # creates the directory itself
                            pass
                    elif action.type == "file":
                        try:
                            result.bytes_written += _write_file(fs, entry, reader, opened)
                        except VerificationFailed as exc:
                            raise VerificationFailed(
                                f"snapshot {opened.id}: restore into {target} stopped: {exc} (files restored "
                                "before it were hash-verified; no partial file was left)"
                            ) from None
                    else:
                        _link(fs, entry)
                elif action.do == "metadata" and action.type == "file":
                    _set_metadata(fs, entry)
            # Directory modes and times last and deepest first, so writing children cannot disturb
            # them; also for directories whose mtime our own renames just moved.
            for action in reversed(result.actions):
                if action.type == "dir" and result.changed:
                    entry, st = entries[action.path], fs.lstat(action.path)
                    if st is None or (stat.S_IMODE(st.st_mode), st.st_mtime_ns) != (
                        _mode(entry),
                        entry["mtime_ns"],
                    ):
                        _set_metadata(fs, entry)
    finally:
        fs.close()
    result.seconds = time.perf_counter() - started
    return result
