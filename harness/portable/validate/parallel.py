"""Entity files checked in separate processes; the parent merges reports and indexes in
contract order, so findings come out exactly as a single-process run gives them."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from harness.portable.contract import Contract
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.index import IndexPart

#: ``worker(contract_path, export_dir, entity, manifest, scratch)`` checks one entity file in a child
#: process and returns its report and index part; a module-level function, so it pickles by name.
EntityWorker = Callable[
    [Path, Path, str, "dict[str, Any] | None", Path], "tuple[ValidationReport, IndexPart]"
]


def check_entities_in_parallel(
    worker: EntityWorker,
    contract: Contract,
    export_dir: Path,
    manifest: dict[str, Any] | None,
    scratch: Path,
    workers: int,
    initializer: Callable[[], None] | None = None,
) -> list[tuple[ValidationReport, IndexPart]] | None:
    """(report, index part) per entity, in contract order; None if the worker pool broke
    (the caller then checks in-process). ``initializer`` runs as each worker process starts.

    Workers are forked when this process runs a single thread, spawned otherwise: the parent
    may run threads (an embedded AWS endpoint), and forking a threaded process can deadlock.
    """
    method = "fork" if threading.active_count() == 1 else "spawn"
    context = multiprocessing.get_context(method)
    # Largest files first, so the longest job does not start last.
    order = sorted(contract.entities, key=lambda e: -_size(export_dir / e.file))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer) as pool:
        futures = {
            ent.name: pool.submit(worker, contract.path, export_dir, ent.name, manifest, scratch)
            for ent in order
        }
        try:
            return [futures[ent.name].result() for ent in contract.entities]
        except BrokenProcessPool:
            return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
