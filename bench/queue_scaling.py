"""Queue scaling: suite-seconds per second and queue latency with 1, 2, 3 `attune worker`s.

Each pack has several suites (``--suites-per-pack``, so one registration's suites can run on
several workers at once); each suite is I/O bound: its four tests sleep ``--sleep`` seconds
in total. For each configuration, in a fresh database and schema, with fresh ATTUNE_HOMEs:
start the workers (``--concurrency 1`` each, and one worker with ``--concurrency 2`` as a
note), wait until they are registered, queue every pack with
`attune pack register PATH --no-wait` one after the other, and wait for every decision. Then
  suite-s/s   the suites' sleeping time (suites x --sleep) over the wall time from the first
              enqueue (the first job's `deferred` event) to the last decision (the newest
              registration's `finished_at`); the ratio is against 1 worker in the same run
  duration    mean recorded `duration_ms` of a suite (sandbox start and runner included)
  latency     enqueue to start per suite (`started.at - deferred.at`), p50 and p99
procrastinate deletes a successful job with its events (and writes no `succeeded` event), so
triggers added to the bench's own schema copy each event, and each deletion, into a side
table. Configurations alternate within each run; the baseline (the first of --workers) is
measured in every run.

Usage: python bench/queue_scaling.py [--suites 12] [--suites-per-pack 3] [--runs 2]
       [--workers 1,2,3] [--note-concurrency 2] [--sleep 1.0]
       [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ATTUNE = str(Path(sys.executable).parent / "attune")
RUN_SUITE = "attune.run_suite"
KEEP_EVENTS = """
CREATE TABLE {schema}.bench_job_events (job_id bigint, task_name text, type text,
                                        at timestamptz);
CREATE FUNCTION {schema}.bench_keep_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {schema}.bench_job_events
        SELECT NEW.job_id, j.task_name, NEW.type::text, NEW.at
        FROM {schema}.procrastinate_jobs j WHERE j.id = NEW.job_id;
    RETURN NEW;
END $$;
CREATE TRIGGER bench_keep_event AFTER INSERT ON {schema}.procrastinate_events
    FOR EACH ROW EXECUTE FUNCTION {schema}.bench_keep_event();
CREATE FUNCTION {schema}.bench_keep_deletion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {schema}.bench_job_events VALUES (OLD.id, OLD.task_name, 'deleted', NOW());
    RETURN OLD;
END $$;
CREATE TRIGGER bench_keep_deletion AFTER DELETE ON {schema}.procrastinate_jobs
    FOR EACH ROW EXECUTE FUNCTION {schema}.bench_keep_deletion();
"""


@dataclass(frozen=True)
class Figures:
    """One configuration's measurement."""

    workers: int
    concurrency: int
    suites: int
    wall: float
    rate: float  # slept suite-seconds per wall second
    duration: float  # mean recorded duration_ms of a suite, in seconds
    latency_p50: float
    latency_p99: float
    pids: int  # distinct worker processes that ran suites


def make_packs(root: Path, suites: int, per_pack: int, sleep: float) -> list[Path]:
    """Packs of ``per_pack`` suites (the last may have fewer); each suite's four tests sleep
    ``sleep`` seconds in total."""
    test = "import time, unittest\n\nclass TestWaits(unittest.TestCase):\n" + "".join(
        f"    def test_waits_{n}(self):\n        time.sleep({sleep / 4!r})\n" for n in range(4))
    packs = []
    for start in range(0, suites, per_pack):
        pack = root / f"queued{len(packs)}"
        (pack / "tests").mkdir(parents=True)
        names = [f"suite{n}" for n in range(min(per_pack, suites - start))]
        for name in names:
            (pack / "tests" / f"test_{name}.py").write_text(test)
        (pack / "pack.yaml").write_text(yaml.safe_dump({
            "ref": pack.name, "version": "1.0.0", "label": pack.name,
            "description": "queue scaling benchmark", "testing": {"enabled": True, "test_suites": [
                {"name": name, "runner": "python_unittest", "working_dir": "tests",
                 "test_files": [f"test_{name}.py"], "timeout_seconds": 120}
                for name in names]}}))
        packs.append(pack)
    return packs


@contextmanager
def fresh_schema(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A new database, dropped afterwards: its URL with a new schema, and the schema."""
    import psycopg

    name, schema = f"attune_bench_{uuid.uuid4().hex[:8]}", f"qs_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}?schema={schema}", schema
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Cluster:
    """Worker processes on hosts of their own and an "api" host that queues, on one schema."""

    def __init__(self, root: Path, database_url: str, schema: str) -> None:
        self.root, self.database_url, self.schema = root, database_url, schema
        self.workers: list[subprocess.Popen[bytes]] = []

    def env(self, host: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
        return {**base, "ATTUNE_HOME": str(self.root / host),
                "ATTUNE_DATABASE_URL": self.database_url}

    def prepare(self) -> None:
        """Create the store's and the queue's tables, then the event-keeping trigger."""
        from attune_registry.adapters.bootstrap import queue_config
        from attune_registry.adapters.settings import Settings

        queue_config(Settings(home=self.root / "setup", database_url=self.database_url))
        self.sql(KEEP_EVENTS.format(schema=f'"{self.schema}"'))

    def sql(self, query: str) -> list[tuple]:
        import psycopg

        url = self.database_url.split("?", 1)[0]
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(query)
            return cursor.fetchall() if cursor.description else []

    def start(self, count: int, concurrency: int) -> None:
        for n in range(count):
            log = open(self.root / f"worker{n}.log", "w")  # noqa: SIM115 (the child keeps it)
            self.workers.append(subprocess.Popen(
                [ATTUNE, "worker", "--concurrency", str(concurrency)], env=self.env(f"worker{n}"),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            log.close()
        self.wait_for(lambda: self.count("procrastinate_workers", "true") >= count,
                      "the workers did not register")
        time.sleep(1.0)  # registered comes just before listening for new jobs

    def count(self, table: str, where: str) -> int:
        return self.sql(f'SELECT count(*) FROM "{self.schema}".{table} WHERE {where}')[0][0]

    def attune(self, *args: str) -> dict | list:
        done = subprocess.run([ATTUNE, *args, "--json"], env=self.env("api"),
                              capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"attune {' '.join(args)}: {done.stderr}")
        return json.loads(done.stdout)["data"]

    def wait_for(self, condition, what: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if any(w.poll() is not None for w in self.workers):
                logs = "".join(p.read_text() for p in self.root.glob("worker*.log"))
                raise RuntimeError(f"a worker exited: {logs}")
            if time.monotonic() > deadline:
                raise RuntimeError(what)
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM each worker (all suites are done), SIGKILL its session if it lingers."""
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


def measure(packs: list[Path], workers: int, concurrency: int, suites: int, sleep: float,
            postgres_url: str) -> Figures:
    with tempfile.TemporaryDirectory() as root, fresh_schema(postgres_url) as (url, schema):
        cluster = Cluster(Path(root), url, schema)
        try:
            cluster.prepare()
            cluster.start(workers, concurrency)
            queued = {p.name: cluster.attune("pack", "register", str(p), "--no-wait")
                      ["registration_id"] for p in packs}
            finished = f"task_name = '{RUN_SUITE}' AND type IN ('deleted', 'failed', 'aborted')"
            cluster.wait_for(lambda: cluster.count("bench_job_events", finished) >= suites,
                             "the suites were not all run", timeout=60 + suites * (sleep + 5))
        finally:
            cluster.stop()
        return figures_of(cluster, queued, workers, concurrency, suites, sleep)


def figures_of(cluster: Cluster, queued: dict[str, str], workers: int, concurrency: int,
               suites: int, sleep: float) -> Figures:
    rows = cluster.sql(f"""
        SELECT min(at) FILTER (WHERE type = 'deferred'), min(at) FILTER (WHERE type = 'started')
        FROM "{cluster.schema}".bench_job_events WHERE task_name = '{RUN_SUITE}'
        GROUP BY job_id""")
    first_enqueue = min(deferred for deferred, _ in rows)
    latencies = sorted((started - deferred).total_seconds() for deferred, started in rows)
    decided, durations, pids = [], [], set()
    for ref, registration_id in queued.items():
        row = cluster.attune("pack", "history", ref)[0]
        if (row["id"], row["status"]) != (registration_id, "committed"):
            raise RuntimeError(f"{ref} was not committed: {row}")
        decided.append(datetime.fromisoformat(row["finished_at"]))
        for event in cluster.attune("audit", registration_id)["events"]:
            if event["topic"].endswith(".TestSuiteCompleted"):
                durations.append(event["state"]["duration_ms"] / 1000)
                pids.add(event["state"]["worker"]["pid"])
    wall = (max(decided) - first_enqueue).total_seconds()
    return Figures(workers, concurrency, len(durations), wall, suites * sleep / wall,
                   statistics.fmean(durations), percentile(latencies, 50),
                   percentile(latencies, 99), len(pids))


def percentile(ordered: list[float], p: float) -> float:
    """Nearest rank: with a dozen samples p99 is the largest."""
    return ordered[max(0, -(-len(ordered) * p // 100) - 1)]


def report(run: int, figures: list[Figures]) -> None:
    base = figures[0].rate
    print(f"run {run + 1}:")
    print("  workers x conc | suites | wall s | suite-s/s | vs base | mean suite s "
          "| latency p50 / p99 s | pids")
    for f in figures:
        print(f"  {f.workers:7} x {f.concurrency:<4} | {f.suites:6} | {f.wall:6.2f} | "
              f"{f.rate:9.2f} | {f.rate / base:6.2f}x | {f.duration:12.2f} | "
              f"{f.latency_p50:8.2f} / {f.latency_p99:6.2f} | {f.pids:4}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=12)
    parser.add_argument("--suites-per-pack", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds slept per suite")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--workers", default="1,2,3", help="the first is the baseline")
    parser.add_argument("--note-concurrency", type=int, default=2,
                        help="also one worker with this concurrency (0: skip)")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    configs = [(int(n), 1) for n in args.workers.split(",")]
    if args.note_concurrency > 1:
        configs.append((1, args.note_concurrency))
    print(f"{args.suites} suites of {args.sleep:g} s sleep, {args.suites_per_pack} per pack, "
          f"{os.cpu_count()} cores; ratios against {configs[0][0]} worker(s) in the same run")
    ratios: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as scratch:
        packs = make_packs(Path(scratch), args.suites, args.suites_per_pack, args.sleep)
        for run in range(args.runs):
            figures = [measure(packs, w, c, args.suites, args.sleep, args.postgres_url)
                       for w, c in configs]
            report(run, figures)
            for f, config in zip(figures, configs, strict=True):
                ratios[config].append(f.rate / figures[0].rate)
    print("median scaling ratio over runs: " + ", ".join(
        f"{w} x {c}: {statistics.median(r):.2f}x" for (w, c), r in ratios.items()))


if __name__ == "__main__":
    main()
