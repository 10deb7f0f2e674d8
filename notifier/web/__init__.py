"""The HTTP side: ``create_app`` builds the FastAPI application (JSON API, health and
metrics; review pages, webhooks and tracking arrive with later modules)."""

from notifier.web.app import create_app

__all__ = ["create_app"]
