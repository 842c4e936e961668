"""Dashboard page latency: a pack page with 10,000 runs in its history, rendered on the server.

For each store (a temporary SQLite file; PostgreSQL in a fresh database dropped afterwards),
registers `packs/core` (tests skipped), then bulk-inserts ``--runs`` more runs of `core` into
the read model (as bench/history_scale.py does: this measures the read and render path, not
the projection), signs a reader in, and times through Litestar's test client, in process:
  baseline     GET /api/v1/packs/core/tests   the API's first page of the same history (50 runs)
  pack page    GET /ui/packs/core             timeline, charts of the last 50 runs, first page
  filtered     GET /ui/packs/core?status=failed&trigger=manual
  older page   the pack page's "Older runs" link (by cursor)
  run page     GET /ui/packs/core/runs/N      one run, its suites and failing cases
  packs list   GET /ui/                       every pack with its last run and a trend
Each figure is the median of ``--repeat`` calls after a warm-up; the ratio is against the
baseline measured in the same run. Target: the pack page in at most 100 ms.

Usage: python bench/dashboard_page.py [--stores sqlite,postgres] [--runs 10000] [--repeat 50]
       [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from pathlib import Path

from history_scale import fill, median_ms
from support.stores import POSTGRES_URL, throwaway_store

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.settings import Settings

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 100.0


def run_store(store: str, settings: Settings, runs: int, repeat: int) -> None:
    from litestar.testing import TestClient

    from attune_registry.adapters.http import create_app

    with build_registry(settings) as registry:
        registry.register(RegisterCommand(path=str(REPO / "packs" / "core"), skip_tests=True,
                                          requested_by="bench"))
        token = registry.create_token("bench", "read", actor="bench")[0]
        first = registry.view._select(
            "SELECT COALESCE(MAX(id), 0) AS n FROM {t}pack_test_execution", {})[0]["n"] + 1
        seconds = fill(registry.view, store, first, first + runs - 1, "'core'")
        print(f"[{store}] filled {runs:,} runs of core in {seconds:.1f} s")
        with TestClient(app=create_app(settings, registry=registry)) as client:
            signed = client.post("/ui/signin", data={"token": token, "next": "/ui/"},
                                 follow_redirects=False)
            assert signed.status_code == 303, signed.text
            page = client.get("/ui/packs/core").raise_for_status().text
            older = re.search(r'href="(/ui/packs/core\?cursor=[^"]+)">Older runs', page)
            assert older, "no Older runs link"
            run = re.search(r'href="(/ui/packs/core/runs/\d+)">#', page)
            assert run
            headers = {"Authorization": f"Bearer {token}"}
            urls = {
                "baseline (API)": ("/api/v1/packs/core/tests", headers),
                "pack page": ("/ui/packs/core", {}),
                "filtered": ("/ui/packs/core?status=failed&trigger=manual", {}),
                "older page": (older[1].replace("&amp;", "&"), {}),
                "run page": (run[1], {}),
                "packs list": ("/ui/", {}),
            }
            figures = {name: median_ms(lambda u=url, h=sent: client.get(u, headers=h)
                                       .raise_for_status(), repeat)
                       for name, (url, sent) in urls.items()}
    base = figures["baseline (API)"]
    print(f"[{store}] median ms over {repeat} calls; ratio = page / API first page")
    for name, ms in figures.items():
        print(f"  {name:16}{ms:9.2f}{ms / base:7.2f}")
    verdict = "meets" if figures["pack page"] <= TARGET_MS else "MISSES"
    print(f"[{store}] pack page {figures['pack page']:.1f} ms with {runs:,} runs: {verdict} "
          f"the {TARGET_MS:.0f} ms target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50, help="calls per median")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    for store in args.stores.split(","):
        started = time.perf_counter()
        with throwaway_store(store, args.postgres_url) as settings:
            run_store(store, settings, args.runs, args.repeat)
        print(f"[{store}] done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
