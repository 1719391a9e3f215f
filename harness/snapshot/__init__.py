"""Encrypted snapshots of directory trees (R8): manifest, envelope encryption, stores, retention,
verify and allowlisted restore. The format is specified in docs/snapshot-format.md."""
