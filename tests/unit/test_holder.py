"""Whether the process that holds a registration's lease is gone (``pack cancel``)."""

from __future__ import annotations

import subprocess

from attune_registry.adapters.holder import is_gone, this_process


def test_this_process_is_not_gone():
    holder = this_process()
    assert holder["pid"] > 0 and isinstance(holder["started"], int)
    assert not is_gone(holder)


def test_an_exited_process_is_gone():
    child = subprocess.Popen(["true"])
    child.wait()
    assert is_gone({**this_process(), "pid": child.pid, "started": 1})


def test_a_pid_given_to_another_process_since_is_gone():
    assert is_gone({**this_process(), "started": this_process()["started"] + 1})


def test_unknown_or_elsewhere_is_never_judged_gone():
    assert not is_gone(None)
    assert not is_gone({**this_process(), "host": "another-machine", "pid": 2**22 + 1})
    assert not is_gone({**this_process(), "pid": "1"})


def test_a_queued_registration_may_always_be_ended():
    assert is_gone({"queued": True})
    assert not is_gone({"queued": "yes"})
