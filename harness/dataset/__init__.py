"""Reference application dataset: the bundled schema (``schema.sql``), a deterministic
seeded generator that loads it with COPY (:mod:`harness.dataset.generator`), and the
audit-log hash chain with its in-database verifier (:mod:`harness.dataset.chain`)."""
