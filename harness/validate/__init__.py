"""Validation of fetched exports: R3 rules, findings and the secret scanner."""
