"""What an export archive may hold: flat member names, fixed metadata, the member types refused."""

from __future__ import annotations

import re
import tarfile

PARTIAL_SUFFIX = ".partial"
MEMBER_MTIME = 946_684_800  # 2000-01-01T00:00:00Z: fixed, and not "implausibly old" to tar tools.
MEMBER_MODE = 0o644
TAR_FORMAT = tarfile.PAX_FORMAT

NAME_RE = re.compile(r"[A-Za-z0-9._-]+")
COPY_CHUNK = 1 << 20
# Bytes the decompressed stream may hold besides member data: per member a
# header block, padding and room for an extended header; plus the
# end-of-archive marker and record padding.
OVERHEAD_PER_MEMBER = 4096
OVERHEAD_FIXED = 1 << 20
END_OF_ARCHIVE = 2 * tarfile.BLOCKSIZE

TYPE_NAMES = {
    tarfile.SYMTYPE: "symbolic link",
    tarfile.LNKTYPE: "hard link",
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
    tarfile.DIRTYPE: "directory",
    tarfile.CONTTYPE: "contiguous file",
    tarfile.GNUTYPE_SPARSE: "sparse file",
}


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a safe flat member name, or None if it is."""
    if not name:
        return "empty name"
    if name.startswith("/"):
        return "absolute path"
    if "\\" in name:
        return "backslash in name"
    if ".." in name.split("/"):
        return "path traversal ('..')"
    if "/" in name:
        return "nested path (the export format is flat)"
    if name in (".", ".."):
        return "not a file name"
    if not NAME_RE.fullmatch(name):
        return "name must match [A-Za-z0-9._-]+"
    return None
