"""Database drills on PostgreSQL: the pg_dump round trip (``pg-roundtrip``), point-in-time
recovery (``pitr``) and restore checks of a team's own dumps (``pg-restore-check``).
See docs/database-drills.md."""
