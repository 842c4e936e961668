"""``GET /api/v1/packs/{ref}/tests/compare``: two finished test runs of a pack, case by case."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from attune_registry.domain.comparison import (
    DEFAULT_MIN_MS,
    DEFAULT_THRESHOLD_PCT,
    MAX_MIN_MS,
    MAX_THRESHOLD_PCT,
    RunSelector,
    Thresholds,
)

from attune_registry.adapters.contract import ServedRegistry
from attune_registry.adapters.http.auth import requires
from attune_registry.adapters.http.errors import COMMON_ERRORS, documented_errors
from attune_registry.adapters.http.packs import ref_that_can_exist
from attune_registry.adapters.reads.compare import RunComparison

SELECTOR = ("a test run's id (digits, the `id` of `GET /packs/{ref}/tests`) or a semantic "
            "version (its newest finished run)")
From = Annotated[str | None, QueryParameter(
    name="from", description=f"The older run: {SELECTOR}. Default: the finished run before "
                             "`to`.")]
To = Annotated[str | None, QueryParameter(
    name="to", description=f"The newer run: {SELECTOR}. Default: the newest finished run.")]
Threshold = Annotated[float, QueryParameter(
    ge=0, le=MAX_THRESHOLD_PCT,
    description="A case is slower or faster when its duration changed by at least this many "
                "percent (50: 1.5 times as long)...")]
MinMs = Annotated[int, QueryParameter(
    ge=0, le=MAX_MIN_MS, description="... and by at least this many milliseconds.")]


class ComparisonEnvelope(msgspec.Struct):
    data: RunComparison


class CompareController(Controller):
    path = "/packs"
    tags = ["packs"]
    security = [{"BearerToken": []}]
    before_request = ref_that_can_exist  # type: ignore[assignment]  # a hook, not a method

    @get("/{ref:str}/tests/compare", responses=documented_errors(*COMMON_ERRORS, 409),
         guards=[requires("read")], sync_to_thread=True, operation_id="comparePackTests",
         summary="Two finished test runs, case by case")
    def compare(self, ref: FromPath[str], registry: NamedDependency[ServedRegistry],
                from_: From = None, to: To = None,
                threshold: Threshold = DEFAULT_THRESHOLD_PCT,
                min_ms: MinMs = DEFAULT_MIN_MS) -> ComparisonEnvelope:
        """Newly failing, fixed, still failing, added and removed cases, notable duration
        changes, and the cases of ``to`` that passed only on a retry (flaky). 400 for a
        selector that is neither an id nor a version; 404 for an unknown pack or run, or
        nothing to compare with; 409 for a run still in progress. Both runs are the pack's."""
        selected = [None if text is None else RunSelector.parse(text) for text in (from_, to)]
        return ComparisonEnvelope(data=registry.compare_tests(
            ref, selected[0], selected[1], Thresholds(percent=threshold, min_ms=min_ms)))
