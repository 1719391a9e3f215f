"""How lane packages add subcommands to ``drill``.

Each module in :data:`COMMAND_MODULES` defines ``register(add: AddCommand) -> None`` and keeps its
top-level imports light (heavy imports go inside the command function), so ``drill --help`` stays
fast. A new lane's commands are one new ``cli.py`` plus one line here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

#: Modules that contribute subcommands, in the order ``drill --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "harness.portable.cli",
    "harness.gate.cli",
    "harness.offsite.cli",
    "harness.pgdrill.cli",
    "harness.snapshot.cli",
    "harness.lanes.cli",
    "harness.evidence.cli",
)

#: ``add(name, func, help)`` creates a subcommand parser whose ``func(args)`` returns an exit code.
AddCommand = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]
