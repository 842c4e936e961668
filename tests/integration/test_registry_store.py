"""Registration end to end on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import pytest

from attune_registry.domain.errors import PackAlreadyExistsError, TestsFailedError

from attune_registry.application.commands import RegisterCommand

from attune_registry.adapters.bootstrap import build_registry

from tests.conftest import CORE_PACK, CORE_VERSION
from tests.packs import failing_tests, manifest, write_pack


@pytest.fixture
def registry(settings):
    with build_registry(settings) as service:
        yield service


class TestRegistrationOnEachStore:
    def test_the_core_pack_registers_with_every_test_counted(self, registry):
        registered = registry.register(RegisterCommand(path=str(CORE_PACK)))

        result = registered.outcome.test_result
        assert result.status == "passed" and result.total_tests >= 20
        assert result.passed == result.total_tests
        assert (registered.pack.id, registered.pack.ref, registered.pack.version) == (1, "core", CORE_VERSION)
        assert len(registered.pack.content_digest) == 64
        [run] = registry.test_history("core")
        assert (run.outcome, run.status, run.total_tests, run.pack_id) == (
            "committed", "passed", result.total_tests, 1)
        assert run.result["test_suites"][0]["test_cases"][0]["status"] == "passed"

    def test_failing_tests_are_rejected_recorded_and_not_listed(self, registry, tmp_path):
        pack = write_pack(tmp_path / "mypack", manifest("mypack"),
                          {"test_mixed.py": failing_tests(passed=8, failed=2)})

        with pytest.raises(TestsFailedError):
            registry.register(RegisterCommand(path=str(pack)))

        assert registry.list_packs() == []
        [run] = registry.test_history("mypack")
        assert (run.outcome, run.status, run.passed, run.total_tests, run.pack_id) == (
            "rejected", "failed", 8, 10, None)
        assert run.pass_rate == 0.8

    def test_forced_registration_with_failing_tests_is_active_and_marked_forced(
            self, registry, tmp_path):
        pack = write_pack(tmp_path / "mypack", manifest("mypack"),
                          {"test_mixed.py": failing_tests(passed=8, failed=2)})

        registered = registry.register(RegisterCommand(path=str(pack), force=True))

        assert registered.outcome.forced
        assert [p.ref for p in registry.list_packs()] == ["mypack"]
        [run] = registry.test_history("mypack")
        assert (run.outcome, run.passed, run.total_tests) == ("forced", 8, 10)

    def test_skipped_tests_store_no_test_result(self, registry, tmp_path):
        pack = write_pack(tmp_path / "quick", manifest("quick", testing=None))
        registered = registry.register(RegisterCommand(path=str(pack), skip_tests=True))
        assert registered.outcome.tests_skipped and registered.outcome.test_result is None
        assert registry.test_history("quick") == [] and registry.knows("quick")

    def test_history_is_newest_first_and_keeps_every_attempt(self, registry, tmp_path):
        good = write_pack(tmp_path / "v1", manifest("evolving", "1.0.0"))
        bad = write_pack(tmp_path / "v2", manifest("evolving", "2.0.0"),
                         {"test_mixed.py": failing_tests(passed=1, failed=1)})
        with pytest.raises(TestsFailedError):
            registry.register(RegisterCommand(path=str(bad)))
        registry.register(RegisterCommand(path=str(good)))
        with pytest.raises(PackAlreadyExistsError):
            registry.register(RegisterCommand(path=str(bad)))  # refused before anything ran: not a test run
        registry.register(RegisterCommand(path=str(bad), force=True))

        history = registry.test_history("evolving")

        assert [(r.pack_version, r.outcome) for r in history] == [
            ("2.0.0", "forced"), ("1.0.0", "committed"), ("2.0.0", "rejected")]
        # The first attempt was rejected before the ref was ever active: no pack id then.
        assert [r.pack_id for r in history] == [1, 1, None]
        [active] = registry.list_packs()
        assert (active.version, active.id) == ("2.0.0", 1)

    def test_ids_are_stable_per_ref_across_reregistrations(self, registry, tmp_path):
        core = registry.register(RegisterCommand(path=str(CORE_PACK), skip_tests=True)).pack
        other = registry.register(RegisterCommand(path=str(write_pack(tmp_path / "o", manifest("other"))), skip_tests=True)).pack
        again = registry.register(RegisterCommand(path=str(CORE_PACK), skip_tests=True, force=True)).pack
        assert (core.id, other.id, again.id) == (1, 2, 1)
        assert again.registration_id != core.registration_id
        assert again.created == core.created and again.updated >= core.updated

