"""The slow-machine script's pure parts: where the cpu controller is, and the quota it writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.slow_machine import cpu_mounts, quota_line

HYBRID = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""
UNIFIED = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"


class TestFindingTheCpuController:
    def test_a_hybrid_machine_has_both_and_the_v1_cpu_hierarchy_is_found(self):
        assert cpu_mounts(HYBRID) == (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup/cpu"))

    def test_a_unified_machine_has_only_cgroup_v2(self):
        assert cpu_mounts(UNIFIED) == (Path("/sys/fs/cgroup"), None)

    def test_a_controller_merely_named_like_cpu_is_not_taken(self):
        assert cpu_mounts(HYBRID.replace(",cpu 0 0", ",cpuset 0 0")) == (
            Path("/sys/fs/cgroup/unified"), None)


class TestQuota:
    @pytest.mark.parametrize(("share", "line"), [
        (0.25, (25_000, 100_000)), (1, (100_000, 100_000)), (1.5, (150_000, 100_000)),
        (0.001, (1_000, 100_000))])
    def test_a_share_of_one_core_becomes_a_quota_per_period(self, share, line):
        assert quota_line(share) == line
