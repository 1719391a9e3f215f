"""Foreign portable exports, written by small generators in styles unlike the harness's own exporter,
with contracts (version 2) describing them, and broken variants of each."""
