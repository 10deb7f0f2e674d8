"""Render a reminder from the templates in ``templates/`` (layout: templates/README.md),
installed inside the package (notifier.shipped) or a directory of one's own.

- ``sms/{locale}/{step}.txt.j2``: the whole SMS (each extends ``sms/{locale}/_layout.txt.j2``,
  which adds the sender, the payment link, the contact and the opt-out line).
- ``email/{locale}/{step}.j2``: the wording of one step, as macros (``subject()`` and
  ``message()``). The shared layouts ``email/_subject.j2``, ``email/_layout.txt.j2`` and
  ``email/_layout.html.j2`` import it, so the plain text and the HTML say the same words
  and the linter's check of the text holds for the HTML too.

Autoescape follows the template's name: on for ``*.html.j2`` and for every template loaded
*from* an HTML template, off otherwise. Jinja decides escaping when it compiles a template,
and a macro takes the escaping mode of its caller, so a text-mode macro called from HTML
would come back unescaped and marked safe. Hence the HTML layout is loaded as
``html:email/_layout.html.j2`` and every name it imports gets the same ``html:`` prefix
(:meth:`_Environment.join_path`): the step's macros are compiled a second time, with
autoescape, from the same file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    pass_context,
)
from jinja2.runtime import Context
from markupsafe import Markup, escape

from notifier.render.context import TONES, MessageContext
from notifier.render.formatting import format_day, format_day_short, format_money, format_rate
from notifier.render.segments import sms_segments
from notifier.shipped import TEMPLATES_DIR

DEFAULT_TEMPLATES = TEMPLATES_DIR  # inside the package; NOTIFIER_TEMPLATES_DIR replaces it
HTML_PREFIX = "html:"
HTML_SUFFIXES = (".html", ".htm", ".html.j2")


class RenderError(Exception):
    """A message could not be rendered; the text says which template and why."""


class TemplateMissing(RenderError):
    """No template for this step, locale and channel."""


@dataclass(frozen=True)
class RenderedSms:
    body: str
    segments: int
    encoding: str  # GSM-7 | UCS-2


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class _Loader(FileSystemLoader):
    """Loads ``html:some/name`` from ``some/name``: the same file, compiled for HTML."""

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        return super().get_source(environment, template.removeprefix(HTML_PREFIX))


class _Environment(Environment):
    def join_path(self, template: str, parent: str) -> str:
        """What an HTML template imports, extends or includes is loaded as HTML too."""
        if _is_html(parent) and not template.startswith(HTML_PREFIX):
            return HTML_PREFIX + template
        return template


def _is_html(name: str | None) -> bool:
    return name is not None and (name.startswith(HTML_PREFIX) or name.endswith(HTML_SUFFIXES))


class Renderer:
    """One Jinja environment over a templates directory; safe to share between threads."""

    def __init__(self, templates_dir: Path | str | None = None) -> None:
        self.templates_dir = Path(templates_dir) if templates_dir else DEFAULT_TEMPLATES
        self.env = _Environment(
            loader=_Loader(self.templates_dir),
            undefined=StrictUndefined,
            autoescape=_is_html,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            money=_money, day=_day, day_short=_day_short, rate=_rate, paragraphs=_paragraphs
        )
        self.env.tests["http_url"] = _is_http_url

    def sms(self, ctx: MessageContext) -> RenderedSms:
        name = f"sms/{ctx.locale}/{ctx.step}.txt.j2"
        body = _tidy_sms(self._render(self._step_template("sms", ctx, name), ctx))
        segments, encoding = sms_segments(body)
        return RenderedSms(body, segments, encoding)

    def email(self, ctx: MessageContext) -> RenderedEmail:
        self._step_template("email", ctx, f"email/{ctx.locale}/{ctx.step}.j2")
        subject = self._render(self.env.get_template("email/_subject.j2"), ctx)
        text = self._render(self.env.get_template("email/_layout.txt.j2"), ctx)
        html = self._render(self.env.get_template(HTML_PREFIX + "email/_layout.html.j2"), ctx)
        return RenderedEmail(" ".join(subject.split()), _tidy(text), _tidy(html))

    def _step_template(self, channel: str, ctx: MessageContext, name: str) -> Template:
        if ctx.tone not in TONES:
            raise RenderError(f"unknown tone {ctx.tone!r} for step {ctx.step!r}; "
                              f"expected one of {', '.join(TONES)}")  # fmt: skip
        try:
            return self.env.get_template(name)
        except TemplateNotFound as exc:
            raise TemplateMissing(
                f"no {channel} template for step {ctx.step!r} in locale {ctx.locale!r}: "
                f"expected {self.templates_dir / name}"
            ) from exc

    def _render(self, template: Template, ctx: MessageContext) -> str:
        try:
            return template.render(ctx.template_vars())
        except TemplateError as exc:
            raise RenderError(
                f"{template.name} (step {ctx.step!r}, locale {ctx.locale!r}, tone {ctx.tone!r}):"
                f" {exc.message or exc}"
            ) from exc


@pass_context
def _money(context: Context, amount: Decimal, currency: str | None = None) -> str:
    return format_money(amount, currency or context["currency"], context["locale"])


@pass_context
def _day(context: Context, day: date) -> str:
    return format_day(day, context["locale"])


@pass_context
def _day_short(context: Context, day: date) -> str:
    return format_day_short(day, context["locale"])


@pass_context
def _rate(context: Context, rate: Decimal) -> str:
    return format_rate(rate, context["locale"])


def _paragraphs(text: str) -> list[Markup]:
    """Blank-line separated paragraphs with their line breaks as <br>. Text that is not
    Markup yet is escaped first; Markup (from an autoescaped macro) is escaped already."""
    html = str(escape(text))
    paras = [p.strip() for p in re.split(r"\n\s*\n", html) if p.strip()]
    return [Markup("<br>\n".join(line.strip() for line in p.splitlines())) for p in paras]


def _is_http_url(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


def _tidy(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, no blank start or end."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _tidy_sms(text: str) -> str:
    """An SMS has no blank lines: every character counts."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
