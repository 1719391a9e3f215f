"""Portable-export validation: the validator, its findings and the on-disk index."""
