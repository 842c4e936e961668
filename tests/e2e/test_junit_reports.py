"""``--junit-xml`` of the CLI and ``GET /packs/{ref}/tests/{id}/junit``: the stored run as JUnit
XML, read back with junitparser and compared with the run's own counts."""

from __future__ import annotations

from pathlib import Path

from junitparser import JUnitXml

from attune_registry.adapters.bootstrap import build_registry

from tests.e2e.test_http import api  # noqa: F401  (the fixture)
from tests.packs import failing_tests, manifest, write_pack


def counts(report: JUnitXml) -> list[tuple]:
    """Per suite: name, tests, failures + errors, skipped; then the totals."""
    suites = [(s.name, s.tests, s.failures + s.errors, s.skipped) for s in report]
    return [*suites, ("total", report.tests, report.failures + report.errors, report.skipped)]


def stored(result: dict) -> list[tuple]:
    suites = [(s["name"], s["total"], s["failed"], s["skipped"]) for s in result["test_suites"]]
    return [*suites, ("total", result["total_tests"], result["failed"], result["skipped"])]


def newest_run(settings, ref: str) -> dict:
    with build_registry(settings) as registry:
        return registry.test_history(ref, limit=1)[0].result


def mixed_pack(root: Path, ref: str = "mypack") -> Path:
    return write_pack(root / ref, manifest(ref), {"test_mixed.py": failing_tests(3, 2)})


class TestCli:
    def test_a_passing_registration_writes_its_run(self, cli, settings, tmp_path):
        pack = write_pack(tmp_path / "mypack", manifest("mypack"))
        path = tmp_path / "reports" / "junit.xml"

        done = cli("pack", "register", str(pack), "-q", "--junit-xml", str(path))

        assert done.returncode == 0, done.stderr
        report = JUnitXml.fromfile(str(path))
        assert counts(report) == stored(newest_run(settings, "mypack"))
        assert report.tests == 2 and report.failures + report.errors == 0

    def test_a_rejected_registration_still_writes_its_run(self, cli, settings, tmp_path):
        path = tmp_path / "junit.xml"

        done = cli("pack", "register", str(mixed_pack(tmp_path)), "-q", "--junit-xml", str(path))

        assert done.returncode == 1
        report = JUnitXml.fromfile(str(path))
        assert counts(report) == stored(newest_run(settings, "mypack"))
        assert (report.tests, report.failures) == (5, 2)
        failed = sorted(case.name for suite in report for case in suite if case.result)
        assert failed == ["test_fail_0", "test_fail_1"]

    def test_pack_test_writes_the_run_it_prints(self, cli, settings, tmp_path):
        pack = mixed_pack(tmp_path)
        cli("pack", "register", str(pack), "--force", "-q")
        path = tmp_path / "junit.xml"

        done = cli("pack", "test", "mypack", "-q", "--junit-xml", str(path))

        assert done.returncode == 1
        run = newest_run(settings, "mypack")
        assert run["status"] == "failed"
        assert counts(JUnitXml.fromfile(str(path))) == stored(run)

    def test_skipped_tests_write_nothing(self, cli, tmp_path):
        pack = write_pack(tmp_path / "mypack", manifest("mypack"))
        path = tmp_path / "junit.xml"

        done = cli("pack", "register", str(pack), "--skip-tests", "--junit-xml", str(path))

        assert done.returncode == 0 and not path.exists()


class TestApi:
    def test_any_stored_run_is_served_as_junit_xml(self, api, tmp_path):  # noqa: F811
        pack = mixed_pack(api.root)
        assert api.register(pack).status_code == 400  # rejected, yet stored
        [row] = api.get("/packs/mypack/tests").json()["data"]

        served = api.get(f"/packs/mypack/tests/{row['id']}/junit")

        assert served.status_code == 200
        assert served.headers["content-type"].startswith("application/xml")
        path = tmp_path / "served.xml"
        path.write_bytes(served.content)
        assert counts(JUnitXml.fromfile(str(path))) == stored(row["result"])
        assert row["result"]["failed"] == 2

    def test_unknown_runs_and_packs_are_404(self, api):  # noqa: F811
        api.register(write_pack(api.root / "mypack", manifest("mypack")))
        [row] = api.get("/packs/mypack/tests").json()["data"]

        for url in (f"/packs/mypack/tests/{row['id'] + 1}/junit",
                    f"/packs/other/tests/{row['id']}/junit"):
            missing = api.get(url)
            assert missing.status_code == 404, url
            assert missing.json()["code"] == "NOT_FOUND"

    def test_it_needs_a_token(self, api):  # noqa: F811
        assert api.get("/packs/mypack/tests/1/junit", headers={}).status_code == 401


def test_an_id_no_store_can_hold_is_a_404(settings, tmp_path):
    from litestar.testing import TestClient

    from attune_registry.adapters.bootstrap import build_registry
    from attune_registry.adapters.http import create_app

    with build_registry(settings) as registry:
        secret, _ = registry.create_token("reader", "read", actor="test")
    with TestClient(app=create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        huge = client.get(f"/api/v1/packs/lamp/tests/{2**70}/junit", headers=headers)
        zero = client.get("/api/v1/packs/lamp/tests/0/junit", headers=headers)
    assert (huge.status_code, zero.status_code) == (404, 404)
