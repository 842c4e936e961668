"""The HTTP API (Litestar)."""

from adapters.http.app import create_app

__all__ = ["create_app"]
