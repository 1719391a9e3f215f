"""Exception types and the exit codes they map to.

Exit codes mean the same thing everywhere: 0 verified, 1 the drill ran and
verification failed, 2 the drill could not run (bad input, missing tool,
unreachable service).
"""

from __future__ import annotations

EXIT_VERIFIED = 0
EXIT_NOT_VERIFIED = 1
EXIT_COULD_NOT_RUN = 2


class DrillError(Exception):
    """The drill could not run (exit 2). The message names the file, record or setting."""

    exit_code = EXIT_COULD_NOT_RUN


class ConfigError(DrillError):
    """A scenario, contract or option is invalid."""


class ProviderError(DrillError):
    """A service provider (PostgreSQL, AWS endpoint) could not be started or reached."""


class RefusedError(DrillError):
    """A safety rule refused the operation (e.g. a write to a production target)."""


class AlreadyExists(RefusedError, FileExistsError):
    """A write-once file or object exists already; it is never replaced."""


class VerificationFailed(Exception):
    """The drill ran and the data did not verify (exit 1)."""

    exit_code = EXIT_NOT_VERIFIED


class ArchiveError(VerificationFailed):
    """An archive is corrupt, truncated or unsafe to extract."""


class StepSkipped(Exception):
    """A step had nothing to do (e.g. no smoke queries): recorded as skipped, never passed."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an error's message (at most ``limit`` characters), or its type when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__


def describe_unexpected(exc: BaseException) -> str:
    """One line for an exception the harness did not expect: its type and where it was raised in the
    harness (file:line), never its message, which may quote a value."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/harness/" in f.filename.replace("\\", "/")]
    where = ""
    if ours or frames:
        frame = (ours or frames)[-1]
        path = frame.filename.replace("\\", "/")
        where = f" at {path[path.rfind('/harness/') + 1 :] if '/harness/' in path else path}:{frame.lineno}"
    return f"unexpected {type(exc).__name__}{where} (a bug in drill-harness; please report it)"
