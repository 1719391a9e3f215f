"""Portable export lane: contract, export, archive, validate, dry-run, restore, compare."""
