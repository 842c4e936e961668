"""What a `/metrics` scrape costs: the first one after a start (the whole event log folded) and
the following ones (only what is new), on SQLite and PostgreSQL.

Writes N registrations, each with one suite of CASES test cases (names, statuses, a little
output: what a real suite records), straight to the event log, then measures:
  baseline   reading and decoding every event of the log (the projector's starting point)
  cold       LogFigures.update() from nothing: the first scrape of a new server process
  warm       a scrape after one more registration (its 3 events)
  families   rendering every figure (with the HTTP ones) as the exposition text
and prints events/s and ratios. PostgreSQL runs in a fresh database dropped afterwards.

Usage: python bench/metrics_scrape.py [--registrations N] [--cases N] [--stores sqlite,postgres]
       [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from attune_registry.domain import policy
from attune_registry.domain.manifest import parse_manifest
from attune_registry.domain.results import TestCaseResult

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.observability.figures import LogFigures
from attune_registry.adapters.observability.metrics import exposition
from attune_registry.adapters.settings import Settings


def write_tested_history(registry, count: int, cases: int, batch: int = 50,
                         prefix: str = "bench") -> None:
    """Committed registrations that ran one suite each, ``batch`` per transaction, of refs
    ``<prefix><n>`` (a prefix of their own for each call)."""
    from attune_registry.domain.pack import Pack
    from attune_registry.domain.registration import Registration

    now = datetime.now(UTC)
    suite = policy.suite_result(
        name="Unit Tests", runner_type="python_unittest", exit_code=0, duration_ms=2345,
        cases=[TestCaseResult(name=f"tests.test_mod.TestThing.test_case_{n}",
                              status="passed", duration_ms=3) for n in range(cases)],
        stdout="." * 200, stderr=f"Ran {cases} tests in 0.1s\n\nOK\n")
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
                force=False, replace=True, skip_tests=False, trigger_reason="register",
                requested_by="bench", origin=None, skip_dependents=False)
            pack.open_registration(registration.id, replace=True,
                                   lease_expires=now + timedelta(minutes=5), now=now)
            registration.complete_suite(suite)
            replaced = pack.activate(registration.id, "1.0.0")
            registration.commit(summary=None, forced=False, replaced_registration_id=replaced)
            touched += [registration, pack]
        registry.app.save(*touched)


def measure(settings: Settings, count: int, cases: int) -> dict[str, float]:
    with build_registry(settings) as registry:
        write_tested_history(registry, count, cases)
        head = registry.projection_status().log_head

        started = time.perf_counter()
        position = 0
        while batch := registry.app.recorder.select_notifications(
                start=position, limit=500, inclusive_of_start=False):
            for notification in batch:
                registry.app.mapper.to_domain_event(notification)
            position = batch[-1].id
        baseline = time.perf_counter() - started

        figures = LogFigures(registry.app.recorder)
        started = time.perf_counter()
        folded = figures.update()
        cold = time.perf_counter() - started

        write_tested_history(registry, 1, cases, prefix="fresh")
        started = time.perf_counter()
        new = figures.update()
        warm = time.perf_counter() - started

        health = registry.health()
        started = time.perf_counter()
        body, _ = exposition(health, figures)
        render = time.perf_counter() - started
        assert folded == 3 * count and new == 3 and b"attune_registrations_total" in body
    return {"events": head, "folded": folded, "baseline_eps": head / baseline,
            "cold_s": cold, "cold_eps": head / cold, "warm_ms": warm * 1000,
            "render_ms": render * 1000, "bytes": len(body)}


def report(store: str, figures: dict[str, float], count: int, cases: int) -> None:
    print(f"[{store}] {count} registrations with one suite of {cases} cases = "
          f"{figures['events']:.0f} events ({figures['folded']:.0f} of them counted)")
    print(f"  baseline (read+decode all):  {figures['baseline_eps']:10.0f} events/s")
    print(f"  cold scrape (fold the log):  {figures['cold_eps']:10.0f} events/s "
          f"= {figures['cold_s']:.2f} s  ({figures['cold_eps'] / figures['baseline_eps']:.1f}x "
          "the baseline)")
    print(f"  warm scrape (3 new events):  {figures['warm_ms']:10.1f} ms")
    print(f"  exposition text:             {figures['render_ms']:10.1f} ms "
          f"({figures['bytes']:.0f} bytes)")


def main() -> None:
    # Here, not at the top: tests import this module's writers without bench/ on sys.path.
    from support.stores import POSTGRES_URL, throwaway_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=5000)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    for store in args.stores.split(","):
        with throwaway_store(store, args.postgres_url) as settings:
            report(store, measure(settings, args.registrations, args.cases),
                   args.registrations, args.cases)

if __name__ == "__main__":
    main()
