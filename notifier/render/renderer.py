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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    meta,
    pass_context,
)
from jinja2.environment import TemplateModule
from jinja2.runtime import Context
from jinja2.utils import missing
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


MODULES = "_modules"  # the template variable holding one message's imported modules
# What the filters read from the context besides their arguments (_money, _day, ...).
FILTER_NAMES = ("currency", "format_locale")


class _Template(Template):
    """A template whose ``import ... with context`` is built once per message where the
    result is the same: an e-mail layout and its step both import the locale's
    ``_common.j2`` (the text twice, the HTML twice). A module is reused only when every
    name it can read (its free variables, what the filters read) has the very same value
    as when it was built; otherwise, and outside a message's values, it is built anew."""

    _reads: tuple[str, ...] | None = None

    def make_module(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> TemplateModule:
        memo = vars.get(MODULES) if vars is not None and shared else None
        if not isinstance(memo, dict):
            return super().make_module(vars, shared, locals)
        assert vars is not None
        built = memo.get(self)
        if built is not None and all(
            _seen(n, vars, locals) is _seen(n, built[1], built[2]) for n in self._free_names()
        ):
            module: TemplateModule = built[0]
            return module
        # Jinja never changes a context's variables once made, nor ``vars`` (a fresh dict,
        # or the message's values): kept as they are, they are compared when asked again.
        module = super().make_module(vars, shared, locals)
        memo[self] = (module, vars, locals)
        return module

    def _free_names(self) -> tuple[str, ...]:
        """The names the template reads from its context (jinja2.meta), and the filters'."""
        if self._reads is None:
            loader = self.environment.loader
            assert loader is not None and self.name is not None
            source = loader.get_source(self.environment, self.name)[0]
            free = meta.find_undeclared_variables(self.environment.parse(source))
            self._reads = (*sorted(free), *FILTER_NAMES, FORMATTED, MODULES)
        return self._reads


def template_names(listed: list[str]) -> list[str]:
    """The templates of a directory listing as the renderer loads them: every ``.j2`` file,
    and the e-mail ones a second time as HTML (``html:``: the HTML layout's imports)."""
    found = sorted(n for n in listed if n.endswith(".j2"))
    return [*found, *(HTML_PREFIX + n for n in found if n.startswith("email/"))]


def _seen(name: str, vars: dict[str, Any], locals: Mapping[str, Any] | None) -> Any:
    """The value ``name`` has in a module built from ``vars`` and ``locals``, as
    ``jinja2.runtime.new_context`` merges them (a local that is not missing wins)."""
    if locals:
        value = locals.get(name, missing)
        if value is not missing:
            return value
    return vars.get(name, missing)


def environment(templates_dir: Path, *, auto_reload: bool = False) -> _Environment:
    """Jinja2 over a templates directory with the settings every message is rendered
    with (strict variables, HTML autoescaped by name, block whitespace trimmed), before
    any filter is added."""
    return _Environment(
        loader=_Loader(templates_dir),
        undefined=StrictUndefined,
        autoescape=_is_html,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=auto_reload,
        cache_size=-1,  # every template stays compiled: a directory holds a few dozen
    )


class Renderer:
    """One Jinja environment over a templates directory; safe to share between threads.

    ``auto_reload``: a template edited on disk is used from the next message on (each use
    checks the file's time: for development); off, each template is compiled once per
    Renderer (production: the sweeps render thousands of messages a minute)."""

    def __init__(
        self, templates_dir: Path | str | None = None, *, auto_reload: bool = False
    ) -> None:
        self.templates_dir = Path(templates_dir) if templates_dir else DEFAULT_TEMPLATES
        self.auto_reload = auto_reload
        self.env = environment(self.templates_dir, auto_reload=auto_reload)
        self.env.filters.update(
            money=_money,
            day=_day,
            day_short=_day_short,
            rate=_rate,
            paragraphs=_paragraphs,
            upfirst=_upfirst,
        )
        self.env.tests["http_url"] = _is_http_url
        self.env.template_class = _Template
        self._compiled: dict[str, Template] = {}  # by name, when auto_reload is off
        self._subject_from_text: bool | None = None  # see _subject

    def compile_all(self) -> int:
        """Compile every template of the directory now (the e-mail ones also as HTML, as
        the HTML layout imports them), with the names each reads: a long-running process
        (``notifier worker``) does this once at start, so a broken template is found then
        and no tick pays Jinja2's compilation. With auto_reload nothing is kept. Returns
        how many templates there were."""
        names = template_names(self.env.list_templates())
        for name in names:
            template = self._template(name)
            if isinstance(template, _Template):
                template._free_names()
        return len(names)

    def sms(self, ctx: MessageContext) -> RenderedSms:
        name = f"sms/{ctx.locale}/{ctx.step}.txt.j2"
        template = self._step_template("sms", ctx, name)
        body = _tidy_sms(self._render(template, _values(ctx), ctx))
        segments, encoding = sms_segments(body)
        return RenderedSms(body, segments, encoding)

    def call(self, ctx: MessageContext) -> str:
        """A call task's talking points (``call/{locale}/{step}.txt.j2``, issue 14): one
        point a line, no blank lines."""
        name = f"call/{ctx.locale}/{ctx.step}.txt.j2"
        text = self._render(self._step_template("call", ctx, name), _values(ctx), ctx)
        lines = [line.strip() for line in text.splitlines()]
        return "\n".join(line for line in lines if line)

    def email(self, ctx: MessageContext) -> RenderedEmail:
        """Subject, text and HTML from one set of values: each amount and date is formatted
        once for the three, and the subject is the text's own step macro when the layouts
        are the shipped ones (the same words as ``email/_subject.j2`` renders)."""
        step = f"email/{ctx.locale}/{ctx.step}.j2"
        self._step_template("email", ctx, step)
        values = _values(ctx)
        values[MODULES] = {}  # its layouts and its step import _common.j2: see _Template
        text_layout = self._template("email/_layout.txt.j2")
        context = text_layout.new_context(values)
        text = self._run(text_layout, context, ctx)
        subject = self._subject(ctx, values, context.vars.get("m"), step)
        html = self._render(self._template(HTML_PREFIX + "email/_layout.html.j2"), values, ctx)
        return RenderedEmail(" ".join(subject.split()), _tidy(text), _tidy(html))

    def _subject(self, ctx: MessageContext, values: dict[str, Any], m: Any, step: str) -> str:
        if (
            self._shipped_subject()
            and getattr(m, "__name__", None) == step
            and callable(getattr(m, "subject", None))
        ):
            try:
                return str(m.subject())
            except TemplateError as exc:
                raise self._error("email/_subject.j2", ctx, exc) from exc
        return self._render(self._template("email/_subject.j2"), values, ctx)

    def _shipped_subject(self) -> bool:
        """Whether ``email/_subject.j2`` and ``email/_layout.txt.j2`` are the shipped files:
        then the subject is the ``m.subject()`` of the text layout, already built. Checked
        once (a directory of one's own may change its layouts; auto_reload: never)."""
        if self.auto_reload:
            return False
        if self._subject_from_text is None:
            names = ("email/_subject.j2", "email/_layout.txt.j2")
            try:
                self._subject_from_text = all(
                    _source(self.templates_dir / n) == _source(DEFAULT_TEMPLATES / n) for n in names
                )
            except OSError:
                self._subject_from_text = False
        return self._subject_from_text

    def _template(self, name: str) -> Template:
        """A compiled template; looked up once per Renderer unless auto_reload is on."""
        if self.auto_reload:
            return self.env.get_template(name)
        template = self._compiled.get(name)
        if template is None:
            template = self._compiled[name] = self.env.get_template(name)
        return template

    def _step_template(self, channel: str, ctx: MessageContext, name: str) -> Template:
        if ctx.tone not in TONES:
            raise RenderError(f"unknown tone {ctx.tone!r} for step {ctx.step!r}; "
                              f"expected one of {', '.join(TONES)}")  # fmt: skip
        try:
            return self._template(name)
        except TemplateNotFound as exc:
            raise TemplateMissing(
                f"no {channel} template for step {ctx.step!r} in locale {ctx.locale!r}: "
                f"expected {self.templates_dir / name}"
            ) from exc

    def _render(self, template: Template, values: dict[str, Any], ctx: MessageContext) -> str:
        return self._run(template, template.new_context(values), ctx)

    def _run(self, template: Template, context: Context, ctx: MessageContext) -> str:
        """``template.render`` in a context of our own (the text layout's is read after)."""
        try:
            try:
                return self.env.concat(template.root_render_func(context))
            except Exception:
                self.env.handle_exception()
        except TemplateError as exc:
            raise self._error(template.name, ctx, exc) from exc

    def _error(self, name: str | None, ctx: MessageContext, exc: TemplateError) -> RenderError:
        return RenderError(
            f"{name} (step {ctx.step!r}, locale {ctx.locale!r}, tone {ctx.tone!r}):"
            f" {exc.message or exc}"
        )


FORMATTED = "_formatted"  # the template variable holding one draft's formatted values


def _values(ctx: MessageContext) -> dict[str, Any]:
    """The template variables of one message, and a memo of its formatted amounts and dates
    that its subject, text and HTML share (an e-mail prints each amount 2-4 times)."""
    values = ctx.template_vars()
    values[FORMATTED] = {}
    return values


def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pass_context
def _money(context: Context, amount: Decimal, currency: str | None = None) -> str:
    currency = currency or context["currency"]
    memo: dict[Any, str] = context[FORMATTED]
    key = (amount, currency)
    text = memo.get(key)
    if text is None:
        text = memo[key] = format_money(amount, currency, context["format_locale"])
    return text


@pass_context
def _day(context: Context, day: date) -> str:
    return format_day(day, context["format_locale"])


@pass_context
def _day_short(context: Context, day: date) -> str:
    return format_day_short(day, context["format_locale"])


@pass_context
def _rate(context: Context, rate: Decimal) -> str:
    return format_rate(rate, context["format_locale"])


def _paragraphs(text: str) -> list[Markup]:
    """Blank-line separated paragraphs with their line breaks as <br>. Text that is not
    Markup yet is escaped first; Markup (from an autoescaped macro) is escaped already."""
    html = str(escape(text))
    paras = [p.strip() for p in re.split(r"\n\s*\n", html) if p.strip()]
    return [Markup("<br>\n".join(line.strip() for line in p.splitlines())) for p in paras]


def _upfirst(text: str) -> str:
    """The first letter in upper case, the rest as it is (``capitalize`` lowers the rest):
    a sentence fragment that starts a sentence."""
    return text[:1].upper() + text[1:]


def _is_http_url(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


def _tidy(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, no blank start or end."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _tidy_sms(text: str) -> str:
    """An SMS has no blank lines: every character counts."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
