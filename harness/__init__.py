"""drill-harness: prove that backups really restore."""

__version__ = "0.1.0"
