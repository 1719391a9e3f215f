"""A restore target reached only through directory file descriptors, never following a symlink.

Every path below the target root is opened component by component with
``O_DIRECTORY | O_NOFOLLOW`` relative to its parent's descriptor, so a symlink planted in
the target (``target/sub -> /etc``) stops the restore instead of redirecting it, and no
write can land outside the target even if the tree changes under us.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from harness.errors import ConfigError, RefusedError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def check_allowed(target: Path, allow: Sequence[Path]) -> Path:
    """The target's real path if it is inside an allowlisted directory; refuse otherwise."""
    if not allow:
        raise RefusedError(
            "no restore allowlist is configured (restore.allow in the snapshot config, or "
            "DRILL_RESTORE_ALLOW); refusing to restore anywhere"
        )
    real = Path(os.path.realpath(target))
    roots = [Path(os.path.realpath(a)) for a in allow]
    if any(real == root or root in real.parents for root in roots):
        return real
    shown = ", ".join(str(r) for r in roots)
    raise RefusedError(f"restore target {target} (really {real}) is outside the restore allowlist ({shown})")


class Target:
    """Descriptor-relative access below ``root`` (which must be a real directory)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            self.fd = os.open(root, DIR_FLAGS)
        except FileNotFoundError:
            self.fd = -1  # dry run against a target that does not exist yet
        except OSError as exc:
            raise RefusedError(f"{root}: cannot open the restore target: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @contextlib.contextmanager
    def at(self, rel: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
        """``(descriptor of rel's parent, rel's last component)``, the descriptor closed on exit.

        Raises FileNotFoundError when the parent does not exist (and not ``create``).
        """
        fd = self.parent(rel, create=create)
        if fd is None:
            raise FileNotFoundError(errno.ENOENT, "parent directory does not exist", rel)
        try:
            yield fd, rel.rsplit("/", 1)[-1]
        finally:
            os.close(fd)

    def refusal(self, rel: str) -> RefusedError:
        """Why ``rel`` (which is not a real directory) stops the restore."""
        with self.at(rel) as (fd, name):
            return self._refusal(fd, name, rel)

    def _refusal(self, dir_fd: int, name: str, rel: str) -> RefusedError:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            return RefusedError(f"{self.root / rel}: cannot be opened as a directory")
        if stat.S_ISLNK(st.st_mode):
            dest = os.readlink(name, dir_fd=dir_fd)
            return RefusedError(
                f"{self.root / rel}: is a symbolic link (to {dest!r}) inside the target; "
                "refusing to restore through it"
            )
        return RefusedError(f"{self.root / rel}: exists and is not a directory; refusing to replace it")

    def parent(self, rel: str, *, create: bool) -> int | None:
        """A new descriptor of ``rel``'s parent directory; None if it does not exist and not ``create``."""
        if self.fd < 0:
            return None
        parts = rel.split("/")[:-1]
        fd = os.dup(self.fd)
        try:
            for depth, name in enumerate(parts, start=1):
                try:
                    child = os.open(name, DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        os.close(fd)
                        return None
                    os.mkdir(name, 0o700, dir_fd=fd)
                    child = os.open(name, DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise self._refusal(fd, name, "/".join(parts[:depth])) from None
                    raise ConfigError(
                        f"{self.root / '/'.join(parts[:depth])}: {exc.strerror or exc}"
                    ) from None
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def lstat(self, rel: str) -> os.stat_result | None:
        """``lstat`` of ``rel`` (refusing symlinked parents); None if absent."""
        try:
            with self.at(rel) as (fd, name):
                return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def readlink(self, rel: str) -> str:
        with self.at(rel) as (fd, name):
            return os.readlink(name, dir_fd=fd)

    def sha256(self, rel: str) -> str:
        """Hash of an existing regular file, opened without following links."""
        with self.at(rel) as (fd, name):
            handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
        digest = hashlib.sha256()
        with os.fdopen(handle, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()
