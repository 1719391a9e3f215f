"""The unprivileged OS account embedded and restored servers run as when the harness is root
(PostgreSQL refuses to run as root)."""

from __future__ import annotations

import os
import pwd
import subprocess

from harness.errors import ProviderError

SERVICE_USER = "postgres"


def service_account() -> tuple[int, int] | None:
    """(uid, gid) of the unprivileged account servers (and tools writing their files) run as when
    the harness is root (the account is created when missing); None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        nologin = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") else "/bin/false"
        try:
            subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home", "--shell", nologin, SERVICE_USER],
                check=True,
                capture_output=True,
                text=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise ProviderError(
                f"running as root and the unprivileged `{SERVICE_USER}` OS user is missing; "
                f"creating it failed: {detail}"
            ) from None
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid
