"""PostgreSQL providers (embedded, docker, external), server processes and recovery."""
