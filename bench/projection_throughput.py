"""Projection throughput: catch-up events/s and full rebuild time, on SQLite and PostgreSQL.

Writes N committed registrations straight to the event log (no tests, no projection), then
measures in the same run:
  baseline   reading and decoding every event from the log, applying nothing
  catch-up   the projector's batched catch-up from an empty read side (500 events per txn)
  one-by-one the same with one event per transaction (how an unbatched projector would do)
  rebuild    `projections rebuild`: drop the read side and replay the whole log in one txn
and prints events/s and ratios. PostgreSQL runs in a fresh database dropped afterwards.

Usage: python bench/projection_throughput.py [--registrations N] [--stores sqlite,postgres]
       [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from attune_registry.domain.manifest import parse_manifest

from attune_registry.projections.tables import READ_MODEL_TABLES

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings


def write_history(registry, count: int, batch: int = 50, prefix: str = "bench") -> None:
    """Committed registrations, as the register use case records them, written ``batch`` at a
    time per transaction (distinct refs within a batch, so each Pack appears once per save),
    of 200 refs named ``prefix`` and a number (another prefix for another call on one log)."""
    from attune_registry.domain.pack import Pack
    from attune_registry.domain.registration import Registration

    now = datetime.now(UTC)
    refs = [f"{prefix}{n}" for n in range(200)]
    packs: dict[str, Pack] = {}
    for start in range(0, count, batch):
        touched = []
        for n in range(start, min(start + batch, count)):
            ref = refs[n % len(refs)]
            manifest = parse_manifest({"ref": ref, "version": "1.0.0", "label": "Bench",
                                       "description": "benchmark pack"})
            pack = packs.get(ref) or Pack(ref=ref)
            packs[ref] = pack
            registration = Registration(
                pack_ref=ref, pack_version="1.0.0", label="Bench", manifest=manifest.to_dict(),
                components=[], source_path="/packs/bench", content_digest="0" * 64,
                force=True, replace=True, skip_tests=True, trigger_reason="register",
                requested_by="bench", origin=None, skip_dependents=False)
            pack.open_registration(registration.id, replace=True,
                                   lease_expires=now + timedelta(minutes=5), now=now)
            replaced = pack.activate(registration.id, "1.0.0")
            registration.commit(summary=None, forced=False, replaced_registration_id=replaced)
            touched += [registration, pack]
        registry.app.save(*touched)


def measure(settings: Settings, count: int) -> dict[str, float]:
    with build_registry(settings) as registry:
        started = time.perf_counter()
        write_history(registry, count)
        write_seconds = time.perf_counter() - started
        head = registry.projection_status().log_head

        started = time.perf_counter()
        read = 0
        position = 0
        while batch := registry.app.recorder.select_notifications(
                start=position, limit=500, inclusive_of_start=False):
            read += sum(1 for n in batch if registry.app.mapper.to_domain_event(n))
            position = batch[-1].id
        baseline = time.perf_counter() - started

        started = time.perf_counter()
        registry.view.project(registry.app, batch_size=500)
        catch_up = time.perf_counter() - started

        started = time.perf_counter()
        events = registry.rebuild(batch_size=500)
        rebuild = time.perf_counter() - started

        # One event per transaction, on a sample (it is slow by design).
        sample = min(head, 3000)
        with registry.view._projection_transaction() as cursor:
            for table in READ_MODEL_TABLES:
                cursor.execute(registry.view.dialect.sql(f"DELETE FROM {{t}}{table}"))
            registry.view._forget_position(cursor, registry.app.name)
        started = time.perf_counter()
        applied = 0
        while applied < sample:
            with registry.view._projection_transaction() as cursor:
                applied += registry.view._apply_batches(cursor, registry.app, 1, max_batches=1)
        one_by_one = time.perf_counter() - started
        assert read == head == events
    return {"events": head, "write_s": write_seconds, "baseline_eps": head / baseline,
            "catch_up_eps": head / catch_up, "one_by_one_eps": sample / one_by_one,
            "rebuild_s": rebuild}


def report(store: str, figures: dict[str, float], count: int) -> None:
    print(f"[{store}] {count} registrations = {figures['events']} events "
          f"(written in {figures['write_s']:.1f} s)")
    print(f"  baseline (read+decode only): {figures['baseline_eps']:10.0f} events/s")
    print(f"  batched catch-up:            {figures['catch_up_eps']:10.0f} events/s  "
          f"({figures['catch_up_eps'] / figures['baseline_eps']:.2f} of baseline)")
    print(f"  one event per transaction:   {figures['one_by_one_eps']:10.0f} events/s  "
          f"(batching is {figures['catch_up_eps'] / figures['one_by_one_eps']:.1f}x faster)")
    print(f"  full rebuild:                {figures['rebuild_s']:10.2f} s")


def main() -> None:
    # Here, not at the top: tests import this module's writers without bench/ on sys.path.
    from support.stores import POSTGRES_URL, throwaway_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=5000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    for store in args.stores.split(","):
        with throwaway_store(store, args.postgres_url) as settings:
            report(store, measure(settings, args.registrations), args.registrations)

if __name__ == "__main__":
    main()
