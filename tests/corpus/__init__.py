"""A hostile corpus, generated: archives, manifests, records, secrets, directory inputs and
configuration files the harness did not write, each with the exact verdict it must get."""
