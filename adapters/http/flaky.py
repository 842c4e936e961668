"""``/api/v1/packs/{ref}/flaky``: the cases of a pack whose outcome changed with nothing the
registry can see changing (see ``projections.case_stats``)."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from attune_registry.domain.errors import PackNotFoundError
from attune_registry.domain.manifest import REF_PATTERN

from attune_registry.projections.case_stats import FlakyCase

from attune_registry.adapters.contract import ServedRegistry
from attune_registry.adapters.http.auth import requires
from attune_registry.adapters.http.errors import COMMON_ERRORS, documented_errors


class FlakyCasesEnvelope(msgspec.Struct):
    """``GET /packs/{ref}/flaky``: most recently seen first; empty when none was seen."""

    data: list[FlakyCase]


class FlakyController(Controller):
    path = "/packs"
    tags = ["packs"]
    security = [{"BearerToken": []}]

    @get("/{ref:str}/flaky", responses=documented_errors(*COMMON_ERRORS),
         guards=[requires("read")], sync_to_thread=True, operation_id="packFlakyCases",
         summary="A pack's flaky test cases, with their counts")
    def flaky(self, ref: FromPath[str],
              registry: NamedDependency[ServedRegistry]) -> FlakyCasesEnvelope:
        """Each case that both passed and failed with the same content digest and the same
        environment fingerprint, or passed only on a retry: its passes, failures and passes on
        a retry over those contents and environments, how many versions that spans, when it was
        last seen and its last failure's line. Runs of a dependent against an upgrade
        candidate are not counted. 404 when the ref was never submitted."""
        if not REF_PATTERN.fullmatch(ref):
            raise PackNotFoundError(ref)  # no manifest can declare it: the store is not asked
        return FlakyCasesEnvelope(data=registry.flaky_cases(ref))
