"""Deterministic ``.tar.gz`` (or opt-in ``.tar.zst``) archives of an export directory, and safe
extraction. The format: docs/archive-format.md.

An export directory is flat: ``manifest.json`` plus ``*.jsonl`` files. The archive holds
``manifest.json`` first, then the other files sorted by name, in PAX format with every
variable header field fixed (mtime 2000-01-01, uid/gid 0, no owner names, mode 0644) in a
gzip stream with header mtime 0 and no name (ISA-L), or one checksummed zstd frame
(``harness.archive.codecs``): identical input, byte-identical output.

Extraction treats the archive as hostile. Each member is checked before a byte
of it is written: only regular files with plain flat names
(``[A-Za-z0-9._-]+``), no duplicates, and the member count, the declared member
size, the running total and the ratio of total to compressed size all stay in
:class:`ExtractLimits`. The checks run while the archive is streamed, so a gzip
bomb is refused at its header instead of being inflated. Tar's own ``data``
extraction filter runs as a second line of defence. After the last member the
rest of the stream must be the zero end-of-archive marker and the gzip CRC (zstd content
checksum) must match, so a truncated or corrupted archive never passes as a shorter one.

Both directions write to a ``.partial`` sibling renamed into place only on success.
"""

from __future__ import annotations

from harness.archive.create import ArchiveInfo, create_archive
from harness.archive.extract import ExtractLimits, extract_archive

__all__ = ["ArchiveInfo", "ExtractLimits", "create_archive", "extract_archive"]
