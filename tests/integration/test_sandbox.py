"""The test process sandbox: timeouts kill the whole group, output is capped, env is scrubbed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from attune_registry.adapters.runners.process import (
    OUTPUT_LIMIT_BYTES,
    CappedOutput,
    run_process,
    sandbox_env,
)


def run(script: str, tmp_path: Path, timeout: float = 30):
    private = tmp_path / "private"
    private.mkdir(exist_ok=True)
    return run_process(["/bin/sh", "-c", script], cwd=str(tmp_path),
                       env=sandbox_env(str(tmp_path), str(private)), timeout=timeout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


class TestTimeouts:
    def test_a_timeout_kills_the_backgrounded_grandchild_too(self, tmp_path):
        pid_file = tmp_path / "grandchild.pid"
        outcome = run(f"sleep 300 & echo $! > {pid_file}; wait", tmp_path, timeout=1)

        assert outcome.timed_out and outcome.exit_code is None
        assert not alive(int(pid_file.read_text()))

    def test_children_left_running_after_a_normal_exit_are_killed(self, tmp_path):
        pid_file = tmp_path / "orphan.pid"
        outcome = run(f"sleep 300 > /dev/null 2>&1 & echo $! > {pid_file}; exit 0", tmp_path)

        assert outcome.exit_code == 0 and not outcome.timed_out
        assert not alive(int(pid_file.read_text()))


class TestOutput:
    def test_a_flood_is_kept_as_head_and_tail_with_a_note(self, tmp_path):
        outcome = run("echo FIRST; head -c 20000000 /dev/zero | tr '\\0' x; echo; echo LAST",
                      tmp_path)

        assert outcome.exit_code == 0
        assert outcome.stdout.startswith("FIRST")
        assert outcome.stdout.rstrip().endswith("LAST")
        assert "bytes of output dropped" in outcome.stdout
        assert len(outcome.stdout) < OUTPUT_LIMIT_BYTES + 200

    def test_capped_output_accounts_for_every_byte(self):
        sink = CappedOutput(limit=10)
        for chunk in (b"abc", b"defgh", b"ijklmnop", b"qrstuvwxyz"):
            sink.feed(chunk)
        assert (bytes(sink.head), bytes(sink.tail), sink.dropped) == (b"abcde", b"vwxyz", 16)

    def test_stdout_and_stderr_are_drained_concurrently(self, tmp_path):
        # Writes well over a pipe buffer to stderr before any stdout: no deadlock.
        outcome = run("head -c 1000000 /dev/zero >&2; echo done", tmp_path, timeout=20)
        assert not outcome.timed_out and outcome.stdout.strip() == "done"


class TestEnvironment:
    def test_tests_see_only_the_sandbox_variables(self, tmp_path, monkeypatch):
        monkeypatch.setenv("ATTUNE_DATABASE_URL", "postgresql://secret@db/attune")
        monkeypatch.setenv("ATTUNE_TOKEN", "s3cr3t")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")

        outcome = run("env", tmp_path)

        names = {line.split("=", 1)[0] for line in outcome.stdout.splitlines() if "=" in line}
        assert names <= {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "PYTHONPATH",
                         "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PWD", "SHLVL", "_"}
        assert "secret" not in outcome.stdout and "s3cr3t" not in outcome.stdout

    def test_home_and_tmp_are_private_and_python_is_the_registry_interpreter(self, tmp_path):
        outcome = run('echo "$HOME|$TMPDIR"; command -v python', tmp_path)
        home_tmp, python = outcome.stdout.splitlines()
        assert home_tmp == f"{tmp_path}/private/home|{tmp_path}/private/tmp"
        assert Path(python).parent == Path(sys.executable).parent

    def test_core_dumps_are_off(self, tmp_path):
        assert run("ulimit -c", tmp_path).stdout.strip() == "0"


class TestRegistryDeath:
    def test_the_whole_test_tree_dies_with_the_registry_even_on_sigkill(self, tmp_path):
        import signal
        import subprocess
        import sys
        import time

        pid_file = tmp_path / "grandchild.pid"
        # A stand-in registry process running a test that backgrounds a long-lived child.
        registry = subprocess.Popen([sys.executable, "-c", f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from attune_registry.adapters.runners.process import run_process, sandbox_env
import os
os.makedirs({str(tmp_path / 'p')!r}, exist_ok=True)
run_process(["/bin/sh", "-c", "sleep 300 & echo $! > {pid_file}; wait"], cwd={str(tmp_path)!r},
            env=sandbox_env({str(tmp_path)!r}, {str(tmp_path / 'p')!r}), timeout=300)
"""])
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline and registry.poll() is None
            time.sleep(0.02)
        grandchild = int(pid_file.read_text())

        registry.send_signal(signal.SIGKILL)
        registry.wait()

        deadline = time.monotonic() + 10
        while alive(grandchild):
            assert time.monotonic() < deadline, "the test's child outlived the registry"
            time.sleep(0.02)


class TestSignals:
    def test_a_test_killed_by_a_signal_reports_that_signal(self, tmp_path):
        assert run("kill -KILL $$", tmp_path).exit_code == -9

    def test_tests_start_with_the_default_interrupt_handling(self, tmp_path):
        outcome = run('python -c "import signal; print(signal.getsignal(signal.SIGINT))"',
                      tmp_path)
        assert "default_int_handler" in outcome.stdout
