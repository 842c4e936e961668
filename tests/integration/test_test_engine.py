"""The test engine through the registry: dialects, isolation, parallel suites, manual runs."""

from __future__ import annotations

import os
import resource
import textwrap

import pytest

from attune_registry.domain.errors import ManifestError, PackNotFoundError, TestsFailedError

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry
from attune_registry.adapters.packs.loader import FilesystemPackLoader

from tests.packs import PASSING_TEST, failing_tests, manifest, write_pack


@pytest.fixture
def registry(settings):
    with build_registry(settings) as service:
        yield service


@pytest.fixture
def sqlite_registry(sqlite_settings):
    with build_registry(sqlite_settings) as service:
        yield service


def upstream_core(tmp_path):
    """A pack in upstream Attune's layout: `testing.runners` with a script and unittest."""
    pack = tmp_path / "upstream-core"
    data = manifest("core", testing={
        "enabled": True,
        "discovery": {"method": "directory", "path": "tests"},
        "runners": {
            "shell": {"type": "script", "entry_point": "tests/run_tests.sh", "timeout": 60,
                      "result_format": "simple"},
            "python": {"type": "unittest", "entry_point": "tests/test_actions.py",
                       "timeout": 120},
        },
        "result_path": "tests/results/",
        "min_pass_rate": 1.0,
        "on_failure": "block",
    })
    write_pack(pack, data, {"test_actions.py": PASSING_TEST, "run_tests.sh": textwrap.dedent("""
        set -e
        GREEN='\\033[0;32m'; NC='\\033[0m'
        [ "$(printf 'hi')" = "hi" ]
        printf "Total Tests: ${GREEN}2${NC}\\nPassed: ${GREEN}2${NC}\\nFailed: 0\\n"
    """)})
    return pack


class TestDialects:
    def test_the_upstream_runners_layout_registers_with_real_counts(self, registry, tmp_path):
        registered = registry.register(RegisterCommand(path=str(upstream_core(tmp_path))))

        result = registered.outcome.test_result
        assert [(s.name, s.runner_type, s.passed, s.total) for s in result.test_suites] == [
            ("shell", "shell", 2, 2), ("python", "python_unittest", 2, 2)]
        assert result.status == "passed" and result.total_tests == 4

    def test_a_suite_path_leading_out_of_the_pack_is_a_manifest_error(self, tmp_path):
        outside = tmp_path / "outside"
        outside.mkdir()
        pack = write_pack(tmp_path / "escape", manifest("escape"))
        (pack / "tests" / "linked").symlink_to(outside)
        (outside / "test_steal.py").write_text("")
        data = manifest("escape")
        data["testing"]["test_suites"][0]["working_dir"] = "tests/linked"
        write_pack(pack, data, {})

        with pytest.raises(ManifestError, match=r"testing\.test_suites\[0\]\.working_dir: "
                                                r"'tests/linked' leads outside the pack"):
            FilesystemPackLoader().load(str(pack))

    def test_a_glob_matching_a_link_out_of_the_pack_is_a_manifest_error(self, tmp_path):
        outside = tmp_path / "secret.py"
        outside.write_text("")
        pack = write_pack(tmp_path / "escape", manifest("escape"))
        (pack / "tests" / "test_secret.py").symlink_to(outside)
        with pytest.raises(ManifestError, match=r"test_files\[0\]: 'test_\*\.py' matches "
                                                r"'tests/test_secret.py', which leads outside"):
            FilesystemPackLoader().load(str(pack))


class TestIsolation:
    def test_tests_see_none_of_the_service_environment(self, sqlite_registry, tmp_path,
                                                       monkeypatch):
        monkeypatch.setenv("ATTUNE_DATABASE_URL", "postgresql://svc:hunter2@db/attune")
        monkeypatch.setenv("ATTUNE_TOKEN", "tok-4242")
        monkeypatch.setenv("SERVICE_SECRET", "s3cr3t-value")
        pack = write_pack(tmp_path / "spy", manifest("spy"), {"test_spy.py": """
            import os, unittest
            class TestSpy(unittest.TestCase):
                def test_dump_environment(self):
                    self.fail("ENV " + repr(sorted(os.environ.items())))
        """})

        with pytest.raises(TestsFailedError) as caught:
            sqlite_registry.register(RegisterCommand(path=str(pack)))

        dumped = caught.value.result["test_suites"][0]["test_cases"][0]["error_message"]
        assert "ENV [" in dumped
        for secret in ("hunter2", "tok-4242", "s3cr3t-value", "ATTUNE_", "SERVICE_SECRET"):
            assert secret not in dumped

    def test_the_source_directory_is_never_written(self, sqlite_registry, tmp_path):
        pack = write_pack(tmp_path / "vandal", manifest("vandal"), {"test_vandal.py": """
            import pathlib, shutil, unittest
            class TestVandal(unittest.TestCase):
                def test_deletes_its_own_pack(self):
                    root = pathlib.Path(__file__).resolve().parent.parent
                    (root / "pack.yaml").unlink()
                    (root / "new-file").write_text("x")
        """})
        before = sorted(p.relative_to(pack) for p in pack.rglob("*"))

        sqlite_registry.register(RegisterCommand(path=str(pack)))

        assert sorted(p.relative_to(pack) for p in pack.rglob("*")) == before
        assert (pack / "pack.yaml").exists()

    def test_memory_stays_flat_while_a_test_prints_50_mb(self, sqlite_registry, tmp_path):
        pack = write_pack(tmp_path / "loud", manifest("loud"), {"test_loud.py": """
            import sys, unittest
            class TestLoud(unittest.TestCase):
                def test_floods_stderr_outside_the_buffer(self):
                    line = "x" * 1023 + "\\n"
                    for _ in range(50 * 1024):
                        sys.__stderr__.write(line)
        """})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

        registered = sqlite_registry.register(RegisterCommand(path=str(pack)))

        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        suite = registered.outcome.test_result.test_suites[0]
        assert suite.status == "passed"
        assert "bytes of output dropped" in suite.stderr and len(suite.stderr) < 70_000
        assert grown_mib < 20, f"the registry grew by {grown_mib:.0f} MiB"


class TestParallelSuites:
    def pack_with_four_suites(self, tmp_path):
        data = manifest("parallel", testing={"enabled": True, "test_suites": [
            {"name": f"Suite {n}", "runner": "python_unittest", "working_dir": f"suite{n}",
             "test_files": ["test_*.py"], "timeout_seconds": 60} for n in range(4)]})
        pack = write_pack(tmp_path / "parallel", data, {})
        for n in range(4):
            (pack / f"suite{n}").mkdir()
            source = failing_tests(passed=n + 1, failed=1 if n == 2 else 0)
            (pack / f"suite{n}" / f"test_s{n}.py").write_text(source)
        return pack

    def test_parallel_suites_give_the_same_results_in_declared_order(self, registry, tmp_path):
        pack = self.pack_with_four_suites(tmp_path)

        sequential = registry.register(RegisterCommand(path=str(pack), force=True, jobs=1)).outcome.test_result
        parallel = registry.register(RegisterCommand(path=str(pack), force=True, jobs=4)).outcome.test_result

        def shape(result):
            return [(s.name, s.status, s.total, s.passed, s.failed,
                     [(c.name, c.status) for c in s.test_cases]) for s in result.test_suites]

        assert shape(parallel) == shape(sequential)
        assert [s.name for s in parallel.test_suites] == [f"Suite {n}" for n in range(4)]
        newest = registry.test_history("parallel")[0]
        assert [s["name"] for s in newest.result["test_suites"]] == [
            f"Suite {n}" for n in range(4)]


class TestManualRuns:
    def test_a_manual_run_joins_the_history(self, registry, tmp_path):
        pack = write_pack(tmp_path / "lamp", manifest("lamp"))
        registered = registry.register(RegisterCommand(path=str(pack)))

        outcome = registry.test_registered("lamp")

        assert outcome.result.status == "passed" and outcome.test_run_id is not None
        assert not outcome.source_changed
        manual, first = registry.test_history("lamp")
        assert (manual.trigger_reason, manual.outcome, manual.test_run_id) == (
            "manual", "manual", str(outcome.test_run_id))
        assert manual.registration_id == str(registered.outcome.registration_id)
        assert manual.total_tests == first.total_tests == outcome.result.total_tests

    def test_the_release_is_tested_whatever_the_source_directory_holds_now(self, registry,
                                                                           tmp_path):
        pack = write_pack(tmp_path / "drift", manifest("drift"))
        registry.register(RegisterCommand(path=str(pack)))
        (pack / "tests" / "test_new.py").write_text(failing_tests(passed=0, failed=1))

        outcome = registry.test_registered("drift")

        assert not outcome.source_changed and outcome.result.status == "passed"
        assert outcome.result.total_tests == 2  # test_new.py is not in what was registered

    def test_a_changed_release_is_tested_as_it_is_now_and_flagged(self, registry, settings,
                                                                   tmp_path):
        pack = write_pack(tmp_path / "drift", manifest("drift"))
        digest = registry.register(RegisterCommand(path=str(pack))).pack.content_digest
        release = settings.home / "releases" / digest
        os.chmod(release / "tests", 0o700)
        (release / "tests" / "test_new.py").write_text(failing_tests(passed=0, failed=1))

        outcome = registry.test_registered("drift")

        assert outcome.source_changed and outcome.result.status == "failed"
        assert registry.list_packs()[0].version == "1.0.0"  # a manual run changes nothing active

    def test_a_directory_run_records_nothing(self, registry, tmp_path):
        outcome = registry.test_directory(str(write_pack(tmp_path / "lamp", manifest("lamp"))))
        assert outcome.result.status == "passed" and outcome.test_run_id is None
        assert registry.test_history("lamp") == [] and not registry.knows("lamp")

    def test_an_unregistered_ref_is_not_found(self, registry):
        with pytest.raises(PackNotFoundError, match="Pack 'ghost' not found"):
            registry.test_registered("ghost")


class TestReplace:
    def test_replace_upgrades_only_when_the_tests_pass(self, registry, tmp_path):
        registry.register(RegisterCommand(path=str(write_pack(tmp_path / "v1", manifest("app", "1.0.0")))))
        broken = write_pack(tmp_path / "v2", manifest("app", "2.0.0"),
                            {"test_mixed.py": failing_tests(passed=1, failed=1)})
        fixed = write_pack(tmp_path / "v3", manifest("app", "3.0.0"))

        with pytest.raises(TestsFailedError):
            registry.register(RegisterCommand(path=str(broken), replace=True))
        assert registry.list_packs()[0].version == "1.0.0"

        registry.register(RegisterCommand(path=str(fixed), replace=True))
        assert registry.list_packs()[0].version == "3.0.0"


def test_jobs_setting_must_be_sane():
    from attune_registry.adapters.settings import ConfigError, Settings

    lots = Settings.from_env({"ATTUNE_TEST_JOBS": "lots"})  # reading settings still works
    with pytest.raises(ConfigError, match="ATTUNE_TEST_JOBS must be a whole number"):
        _ = lots.test_jobs
    assert Settings.from_env({"ATTUNE_TEST_JOBS": "3", "HOME": os.environ["HOME"]}).test_jobs == 3
