"""A key-value store's dump tool, imitated: Python's json.dumps with its default spaces and keys in
the order the store returns them, epoch-millisecond times, optional fields left out, arrays of
line items referencing products by SKU, and a manifest with a numeric version, an epoch creation
time, counts and bare-hex checksums in maps, plain names for omitted entities and entity.field
redactions, plus fields of its own."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from tests.conftest import REPO

CONTRACT = REPO / "fixtures" / "contracts" / "kvstore" / "contract.yaml"
ENTITIES = ("customers", "products", "orders")


def records(seed: int = 5, customers: int = 12) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    products = [{"sku": f"SKU-{n:03d}", "name": f"Product {n}", "priceCents": 199 + n * 50} for n in range(9)]
    people = []
    for i in range(customers):
        person: dict[str, Any] = {
            "id": 1000 + i,
            "name": f"Customer {i}",
            "createdMs": 1_700_000_000_000 + i * 86_400_000,
        }
        if i % 2:
            person["email"] = f"c{i}@kv.example"  # absent for the others: absent means null
        people.append(person)
    orders: list[dict[str, Any]] = []
    for n in range(30):
        lines = [
            {"sku": rng.choice(products)["sku"], "qty": rng.randint(1, 4)} for _ in range(rng.randint(1, 3))
        ]
        orders.append(
            {
                "orderId": f"o-{n:05d}",
                "customerId": rng.choice(people)["id"],
                "status": rng.choice(["open", "paid", "shipped"]),
                "lines": lines,
                "placedMs": 1_733_000_000_000 + n * 3_600_000,
                "note": None if n % 4 else "gift",
            }
        )
        if n % 5 == 0:
            orders[-1]["attrs"] = {"channel": "web", "campaign": f"c{n}"}
    buyers = {order["customerId"] for order in orders}
    for person in people:  # keys in the store's order: tier is stored after the name
        person_items = list(person.items())
        tier = "gold" if person["id"] in buyers and person["id"] % 3 == 0 else "basic"
        person.clear()
        person.update([*person_items[:2], ("tier", tier), *person_items[2:]])
    return {"customers": people, "products": products, "orders": orders}


def write(
    dest: Path, data: dict[str, list[dict[str, Any]]] | None = None, created_ms: int = 1_764_543_600_000
) -> Path:
    data = data if data is not None else records()
    dest.mkdir(parents=True)
    counts, sums = {}, {}
    for name in ENTITIES:
        body = "".join(json.dumps(r) + "\n" for r in data[name]).encode()
        (dest / f"{name}.jsonl").write_bytes(body)
        counts[name] = len(data[name])
        sums[f"{name}.jsonl"] = hashlib.sha256(body).hexdigest()
    manifest = {
        "version": 2,
        "created": created_ms,
        "files": {name: f"{name}.jsonl" for name in ENTITIES},
        "counts": counts,
        "sha256": sums,
        "omitted": ["carts"],
        "redactions": ["customers.cardNumber"],
        "tool": "kv-dump 1.3",
        "host": "kv-1",
    }
    (dest / "manifest.json").write_text(json.dumps(manifest))
    return dest


def refresh_manifest(dest: Path) -> None:
    manifest = json.loads((dest / "manifest.json").read_text())
    for name in ENTITIES:
        body = (dest / f"{name}.jsonl").read_bytes()
        manifest["counts"][name] = body.count(b"\n")
        manifest["sha256"][f"{name}.jsonl"] = hashlib.sha256(body).hexdigest()
    (dest / "manifest.json").write_text(json.dumps(manifest))
