"""The dashboard as Litestar parts: its routes, its templates and its static files."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from attune_registry.domain.errors import RegistryError

from attune_registry.adapters.web import views
from attune_registry.adapters.web.compare import CompareController
from attune_registry.adapters.web.pages import (
    DashboardController,
    NotSignedInError,
    SignInController,
    error_page,
    not_signed_in,
)

HERE = Path(__file__).parent


def dashboard_router() -> Router:
    static = create_static_files_router(
        path="/ui/static", directories=[HERE / "static"], include_in_schema=False,
        cache_control=CacheControlHeader(max_age=3600))
    return Router(path="/", route_handlers=[DashboardController, SignInController, static,
                                                  CompareController],
                  exception_handlers={NotSignedInError: not_signed_in,
                                      RegistryError: error_page, HTTPException: error_page,
                                      Exception: error_page})


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    def filters(engine: JinjaTemplateEngine) -> None:
        engine.engine.filters.update(when=views.when, seconds=views.seconds)

    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine,
                          engine_callback=filters)
