"""The dashboard's comparison of two test runs of a pack: ``/ui/packs/{ref}/compare``."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from attune_registry.domain.comparison import RunSelector
from attune_registry.domain.errors import PackNotFoundError
from attune_registry.domain.manifest import REF_PATTERN

from attune_registry.adapters.web.pages import Store, Viewer, page, viewer

Selector = Annotated[str | None, QueryParameter(max_length=200)]
# Per case list: its heading and what it means, in the order the page shows them.
CASE_LISTS = (
    ("newly_failing", "Newly failing", "Failing now; passed or skipped in the older run."),
    ("fixed", "Fixed", "Failing in the older run; passing now."),
    ("still_failing", "Still failing", "Failing in both runs."),
    ("added", "Added", "Only in the newer run."),
    ("removed", "Removed", "Only in the older run."),
    ("now_skipped", "Now skipped", "Ran in the older run; skipped now."),
    ("no_longer_skipped", "No longer skipped", "Skipped in the older run; passing now."),
)


class CompareController(Controller):
    path = "/ui"
    include_in_schema = False
    dependencies = {"actor": Provide(viewer, sync_to_thread=True)}  # noqa: RUF012

    @get("/packs/{ref:str}/compare", sync_to_thread=True)
    def compare(self, actor: Viewer, registry: Store, ref: FromPath[str],
                from_: Annotated[str | None, QueryParameter(name="from", max_length=200)] = None,
                to: Selector = None) -> Template:
        """Two finished runs of ``ref`` (by default its newest two), case by case; ``from`` and
        ``to`` as for ``attune pack test-diff`` (empty: the default)."""
        if not REF_PATTERN.fullmatch(ref):
            raise PackNotFoundError(ref)
        chosen = [RunSelector.parse(text) if text else None for text in (from_, to)]
        found = registry.compare_tests(ref, chosen[0], chosen[1])
        return page("compare.html", actor=actor, ref=ref, found=found,
                    lists=[(heading, meaning, getattr(found.diff, name))
                           for name, heading, meaning in CASE_LISTS],
                    from_text=from_ or "", to_text=to or "")
