"""Message rendering: Jinja2 templates, per-locale formatting, SMS segment counting."""

from notifier.render.context import ItemLine, MessageContext
from notifier.render.renderer import (
    RenderedEmail,
    RenderedSms,
    Renderer,
    RenderError,
    TemplateMissing,
)
from notifier.render.segments import sms_segments

__all__ = [
    "ItemLine",
    "MessageContext",
    "RenderError",
    "RenderedEmail",
    "RenderedSms",
    "Renderer",
    "TemplateMissing",
    "sms_segments",
]
