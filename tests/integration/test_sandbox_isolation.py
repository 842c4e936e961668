"""What a suite can reach from inside the sandbox, with each mechanism: its own copy of the
pack and a private HOME and TMPDIR; not the store, not the registry's environment, not the
network, not the host's processes; and the limits it was given.

Each check is a real unittest suite whose assertions encode the guarantee, so it passes only
when the sandbox holds; the same suite run with the sandbox off fails, which shows the check
can see a breach.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from attune_registry.domain.manifest import SuiteLimits, TestSuite

from attune_registry.adapters.runners import SandboxRunner
from attune_registry.adapters.sandbox import Sandbox, SandboxPolicy, SandboxUnavailable
from attune_registry.adapters.sandbox.mechanism import choose
from attune_registry.adapters.sandbox.policy import SandboxSettingError

from tests.conftest import _running_in_ci

MECHANISMS = ["bwrap", "namespaces"]


@pytest.fixture(params=MECHANISMS)
def mechanism(request: pytest.FixtureRequest) -> str:
    if request.param == "bwrap" and shutil.which("bwrap") is None and not _running_in_ci():
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    return request.param


def run(pack: Path, source: str, mode: str, **suite: object):
    """Run ``source`` as the pack's only unittest module, in the sandbox ``mode``."""
    (pack / "tests").mkdir(parents=True, exist_ok=True)
    (pack / "tests" / "test_probe.py").write_text(textwrap.dedent(source))
    policy = SandboxPolicy.from_settings(mode, str(suite.pop("network_setting", "allow")),
                                         "", "")
    runner = SandboxRunner(Sandbox(policy))
    return runner.run(TestSuite(name="probe", runner="python_unittest", working_dir="tests",
                                timeout_seconds=60, **suite), str(pack))  # type: ignore[arg-type]


def failures(result) -> str:
    return "\n".join(f"{c.name}: {c.error_message}" for c in result.test_cases
                     if c.status != "passed") or str(result.message)


def postgres_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=5).close()
    except OSError:
        return False
    return True


class TestFiles:
    PROBE = """
        import os, sys, unittest

        STORE = {store!r}
        VENV = {venv!r}

        class Files(unittest.TestCase):
            def test_the_store_cannot_be_read(self):
                with self.assertRaises(OSError):
                    open(STORE, "rb").read()

            def test_the_registry_environment_is_read_only(self):
                with self.assertRaises(OSError):
                    open(os.path.join(VENV, "evil.pth"), "w").write("import os\\n")

            def test_the_pack_copy_home_and_tmp_are_writable(self):
                for folder in (".", os.environ["HOME"], os.environ["TMPDIR"]):
                    with open(os.path.join(folder, "scratch"), "w") as handle:
                        handle.write("ok")
    """

    def test_only_the_copy_and_private_folders_are_reachable(self, mechanism, tmp_path):
        store = tmp_path / "home" / "attune.db"
        store.parent.mkdir()
        store.write_bytes(b"SQLite format 3\0")
        probe = self.PROBE.format(store=str(store), venv=sys.prefix)

        result = run(tmp_path / "pack", probe, mechanism)

        assert result.status == "passed", failures(result)
        assert result.isolation is not None and result.isolation.mechanism == mechanism
        assert not (Path(sys.prefix) / "evil.pth").exists()

    def test_with_the_sandbox_off_the_same_probe_sees_a_breach(self, tmp_path):
        store = tmp_path / "home" / "attune.db"
        store.parent.mkdir()
        store.write_bytes(b"SQLite format 3\0")
        probe = self.PROBE.format(store=str(store), venv=str(tmp_path / "fake-venv"))
        (tmp_path / "fake-venv").mkdir()

        result = run(tmp_path / "pack", probe, "off")

        assert result.status == "failed"
        assert {c.name.rsplit(".", 1)[1] for c in result.test_cases
                if c.status == "failed"} == {"test_the_store_cannot_be_read",
                                             "test_the_registry_environment_is_read_only"}
        assert result.isolation is not None and result.isolation.mechanism == "off"
        assert result.isolation.describe().startswith("sandbox OFF (ATTUNE_SANDBOX=off)")


class TestNetworkAndProcesses:
    PROBE = """
        import os, socket, unittest

        class Reach(unittest.TestCase):
            def test_postgres_on_the_host_is_unreachable(self):
                with self.assertRaises(OSError):
                    socket.create_connection(("127.0.0.1", 5432), timeout=5)

            def test_loopback_inside_works(self):
                server = socket.socket()
                server.bind(("127.0.0.1", 0))
                server.listen()
                client = socket.create_connection(server.getsockname(), timeout=5)
                peer, _ = server.accept()
                client.sendall(b"ping")
                self.assertEqual(peer.recv(4), b"ping")

            def test_only_the_suites_own_processes_are_visible(self):
                pids = [p for p in os.listdir("/proc") if p.isdigit()]
                self.assertLessEqual(len(pids), 5, pids)

            def test_not_root(self):
                self.assertNotEqual(os.getuid(), 0)
    """

    def test_no_network_own_processes_and_not_root(self, mechanism, tmp_path):
        if not postgres_answers():
            pytest.skip("no PostgreSQL on 127.0.0.1:5432 to fail to reach")
        result = run(tmp_path / "pack", self.PROBE, mechanism)

        cases = {c.name.rsplit(".", 1)[1]: c.status for c in result.test_cases}
        root_without_bwrap = os.geteuid() == 0 and mechanism == "namespaces" and (
            "identity" not in result.isolation.covers)
        assert cases.pop("test_not_root") == ("failed" if root_without_bwrap else "passed")
        assert set(cases.values()) == {"passed"}, failures(result)
        assert result.isolation.network is False and "network" in result.isolation.covers

    def test_a_suite_that_opts_in_reaches_the_network(self, mechanism, tmp_path):
        if not postgres_answers():
            pytest.skip("no PostgreSQL on 127.0.0.1:5432 to reach")
        probe = """
            import socket, unittest

            class Reach(unittest.TestCase):
                def test_postgres_on_the_host_answers(self):
                    socket.create_connection(("127.0.0.1", 5432), timeout=5).close()
        """
        result = run(tmp_path / "pack", probe, mechanism, network=True)

        assert result.status == "passed", failures(result)
        assert result.isolation.network is True and "network" not in result.isolation.covers

    def test_a_server_that_denies_the_network_fails_the_suite_unrun(self, tmp_path):
        result = run(tmp_path / "pack", "", "auto", network=True, network_setting="deny")

        assert (result.status, result.total) == ("error", 0)
        assert result.message == ("the suite asks for network access (testing.network), which "
                                  "this server refuses (ATTUNE_SANDBOX_NETWORK=deny)")


class TestLimits:
    def test_memory(self, mechanism, tmp_path):
        probe = """
            import unittest

            class Memory(unittest.TestCase):
                def test_allocates_half_a_gib(self):
                    self.assertEqual(len(bytearray(512 * 1024 * 1024)), 512 * 1024 * 1024)
        """
        result = run(tmp_path / "pack", probe, mechanism, limits=SuiteLimits(memory_mb=256))

        assert result.status == "failed"
        assert "MemoryError" in result.test_cases[0].error_message
        assert "sandbox limit memory_mb: 256 MiB of memory" in result.message

    def test_processes(self, mechanism, tmp_path):
        probe = """
            import os, time, unittest

            class Processes(unittest.TestCase):
                def test_forks_sixty(self):
                    for _ in range(60):
                        if os.fork() == 0:
                            time.sleep(60)
                            os._exit(0)
        """
        result = run(tmp_path / "pack", probe, mechanism, limits=SuiteLimits(processes=20))

        if "processes" not in result.isolation.limits:
            # Root without bubblewrap: uid 0 is exempt from the limit, and the record says so.
            assert os.geteuid() == 0 and mechanism == "namespaces"
            assert result.status == "passed", failures(result)
            return
        assert result.status == "failed"
        assert "Resource temporarily unavailable" in result.test_cases[0].error_message
        assert "sandbox limit processes: 20 processes" in result.message

    def test_file_size(self, mechanism, tmp_path):
        probe = """
            import unittest

            class FileSize(unittest.TestCase):
                def test_writes_two_mib(self):
                    with open("big", "wb") as handle:
                        handle.write(b"x" * (2 * 1024 * 1024))
        """
        result = run(tmp_path / "pack", probe, mechanism, limits=SuiteLimits(file_size_mb=1))

        assert result.status == "failed"
        assert "File too large" in result.test_cases[0].error_message
        assert "sandbox limit file_size_mb: 1 MiB per file" in result.message

    def test_cpu_time(self, mechanism, tmp_path):
        probe = """
            import unittest

            class Cpu(unittest.TestCase):
                def test_spins(self):
                    while True:
                        pass
        """
        result = run(tmp_path / "pack", probe, mechanism, limits=SuiteLimits(cpu_seconds=1))

        assert result.status == "error" and result.exit_code == -24  # SIGXCPU
        assert "sandbox limit cpu_seconds: 1 s of CPU" in result.message

    def test_more_than_the_server_allows_fails_the_suite_unrun(self, tmp_path):
        result = run(tmp_path / "pack", "", "auto", limits=SuiteLimits(memory_mb=99999))

        assert (result.status, result.total) == ("error", 0)
        assert result.message == (
            "the suite asks for limits.memory_mb: 99999 MiB of memory, above this server's "
            "maximum 16384 (ATTUNE_SANDBOX_MAX_LIMITS)")


class TestSettings:
    def test_bwrap_asked_for_but_missing_names_the_setting(self, monkeypatch):
        monkeypatch.setenv("PATH", "/nonexistent")
        with pytest.raises(SandboxUnavailable) as caught:
            choose("bwrap")
        assert str(caught.value) == (
            "ATTUNE_SANDBOX=bwrap, but bubblewrap is not installed (Debian and Ubuntu: "
            "apt-get install bubblewrap)")

    @pytest.mark.parametrize(("arguments", "message"), [
        (("fast", "allow", "", ""), "ATTUNE_SANDBOX must be one of auto, bwrap, namespaces, off, "
                                    "got 'fast'"),
        (("auto", "maybe", "", ""), "ATTUNE_SANDBOX_NETWORK must be allow or deny, got 'maybe'"),
        (("auto", "allow", "ram=1", ""), "ATTUNE_SANDBOX_LIMITS: unknown limit 'ram' (known: "
                                         "memory_mb, processes, open_files, file_size_mb, "
                                         "cpu_seconds)"),
        (("auto", "allow", "processes=x", ""), "ATTUNE_SANDBOX_LIMITS: processes must be a whole "
                                               "number above 0, got 'x'"),
        (("auto", "allow", "memory_mb=4096", "memory_mb=2048"),
         "ATTUNE_SANDBOX_LIMITS: memory_mb=4096 is above the maximum 2048 "
         "(ATTUNE_SANDBOX_MAX_LIMITS)"),
    ])
    def test_bad_settings_are_refused_naming_them(self, arguments, message):
        with pytest.raises(SandboxSettingError) as caught:
            SandboxPolicy.from_settings(*arguments)
        assert str(caught.value) == message


def test_results_flooding_the_channel_fail_the_suite_and_stay_bounded(mechanism, tmp_path):
    probe = """
        import os, unittest

        class Flood(unittest.TestCase):
            def test_floods_every_descriptor(self):
                line = b'{"started": "x"}\\n' * 4096
                for fd in range(3, 20):
                    try:
                        for _ in range(1000):
                            os.write(fd, line)
                    except OSError:
                        pass
    """
    result = run(tmp_path / "pack", probe, mechanism)

    assert result.status == "error"
    assert result.message == ("the suite's results exceeded the registry's limit; the rest were "
                              "dropped")


def test_system_calls_that_reach_outside_are_refused(mechanism, tmp_path):
    if platform.machine() != "x86_64":
        pytest.skip("the seccomp filter has a table for x86_64 only")
    probe = """
        import ctypes, errno, os, unittest

        libc = ctypes.CDLL(None, use_errno=True)

        def call(number, *args):
            result = libc.syscall(number, *args)
            return result, ctypes.get_errno()

        class Syscalls(unittest.TestCase):
            def test_no_new_user_namespace(self):
                self.assertEqual(libc.unshare(0x10000000), -1)  # CLONE_NEWUSER
                self.assertEqual(ctypes.get_errno(), errno.EPERM)

            def test_no_keyring_bpf_or_io_uring(self):
                for number in (250, 321, 425):  # keyctl, bpf, io_uring_setup
                    self.assertEqual(call(number, 0, 0, 0), (-1, errno.EPERM), number)

            def test_ordinary_calls_still_work(self):
                pid = os.fork()
                if pid == 0:
                    os._exit(7)
                self.assertEqual(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), 7)
    """
    result = run(tmp_path / "pack", probe, mechanism)

    assert result.status == "passed", failures(result)
    assert "syscalls" in result.isolation.covers
