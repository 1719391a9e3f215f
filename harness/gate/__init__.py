"""Least-privilege PR gate (R6, R7): IAM evaluation, OIDC trust, workflow permissions, posture."""
