"""D14: the content rules every draft and every reviewer edit must pass.

- amounts and dates must be the real ones (those of the customer's items, totals,
  penalty, offer and the dates offered);
- no threat of an action not decided: legal words only for legal-authorised customers;
- no insults, no accusing or contemptuous wording ("你们到底什么时候付钱?", "why haven't
  you paid"), no impersonating authorities, no third party named;
- the SMS opt-out line stays (C3) and the SMS fits its segment limit; an e-mail keeps its
  opt-out line with the unsubscribe link's mark;
- subject lines stay neutral (C4).
Words are the policy's (``[lint]`` in config/notifier.toml), so a team can extend them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from notifier.domain.policy import LintPolicy


@dataclass(frozen=True)
class LintFacts:
    """What a message about this customer may state."""

    amounts: frozenset[Decimal]
    dates: frozenset[date]
    legal_authorised: bool
    channel: str  # sms | email
    locale: str
    ignore: tuple[str, ...] = field(default=())  # ids, phone numbers: not amounts
    # An e-mail keeps its visible opt-out line: the mark its unsubscribe link replaces
    # when it is sent (C3; notifier.tracking). Set for the e-mails compose drafts.
    opt_out_link: bool = False


@dataclass(frozen=True)
class LintProblem:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


# Where an e-mail's unsubscribe link goes until it is sent (render.context, tracking).
UNSUBSCRIBE_MARK = "[unsubscribe-link]"

# Characters a reader cannot see (zero-width spaces and joiners, soft hyphens, bidi
# controls, the BOM): a reviewer could hide a forbidden word behind one ("起\u200b诉"),
# and a customer's phone would show a message that is not the one approved.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
# Spacing or a separator between two Chinese characters ("起 诉", "征-信") still reads as
# one word to a person.
# Written as "a gap character right after a Chinese one" (the same matches as
# ``(?<=[\u4e00-\u9fff])[gap]+(?=[\u4e00-\u9fff])``): starting with the character class
# lets the scan skip to the gap characters at once (about 2x faster on Chinese text).
_GAP = r"[\s\-_.*·•|/]"
_CJK_GAP = re.compile(rf"{_GAP}(?<=[\u4e00-\u9fff]{_GAP}){_GAP}*(?=[\u4e00-\u9fff])")
# Curly apostrophes read as straight ones ("haven’t" is "haven't").
_QUOTES = ("\u2018", "\u2019", "\u02bc")
# Full-width ASCII forms (ＬＡＷＳＵＩＴ, the ，：！ of Chinese text): NFKC maps each of
# U+FF01-U+FF5E to U+0021-U+007E, and nothing else (see _nfkc).
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")
# The lookahead changes no match (re.I folds h and w with H and W only); it lets the scan
# skip the positions that cannot start a link (re.I keeps it from doing so by itself).
_URL = re.compile(r"(?=[hw])(?:https?://|www\.)\S+", re.IGNORECASE)
# The lookahead changes no match (every match starts with one of these characters); it
# lets the scan skip the other positions at once: about 2x faster on Chinese text.
_MONEY = re.compile(
    r"(?=[¥￥$€£CRUEGcrueg\s\d])"
    r"(?P<cur>[¥￥$€£]|CN¥|RMB|CNY|USD|EUR|GBP)?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+(?=\s?万)|\d+\.\d{2}(?!\d)|\d+)"
    r"(?P<suffix>\s?(?:元|万元|yuan|RMB|CNY|USD|EUR|GBP))?",
    re.IGNORECASE,
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_MONTH_NUM = {
    name: i
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")],
        start=1,
    )
    for name in names
}  # fmt: skip
# (pattern, kind, what every match holds: an anchor, a character or a short pattern, at
# one of these offsets from its start). Without the anchor in the text the pattern is
# skipped; with it, only the starts it allows are tried (_anchored).
# Both "dmony" forms hold the year's space and 4 digits 5 to 14 characters after their
# start: a day of 1-2 digits, a space, a month name of 3-9 letters, an optional "." and
# ",", in either order of day and month.
_YEAR_AFTER_SPACE = re.compile(r"\s\d{4}")
# Where a month name may start: its first letter as re.I reads it (the long s "ſ" is an
# "s"; no other character folds to one of these), then the rest of one of the 12
# three-letter starts. Without one, neither "dmony" form can match; a case-sensitive
# first character lets the scan skip to it (about 3x faster than the names under re.I).
_MONTH_START = re.compile(r"[ADFJMNOSadfjmnosſ](?i:an|eb|ar|pr|ay|un|ul|ug|ep|ct|ov|ec)")
_YEAR_OFFSETS = tuple(range(5, 15))
_Anchor = tuple[str | re.Pattern[str], tuple[int, ...]]
_DATES: list[tuple[re.Pattern[str], str, _Anchor]] = [
    (re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"), "ymd", ("-", (4,))),
    (re.compile(r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})"), "ymd", ("/", (4,))),
    (
        re.compile(r"(?P<y>\d{4})\s?年\s?(?P<m>\d{1,2})\s?月\s?(?P<d>\d{1,2})\s?日"),
        "ymd",
        ("年", (5, 4)),
    ),
    (re.compile(r"(?<!\d)(?P<m>\d{1,2})\s?月\s?(?P<d>\d{1,2})\s?日"), "md", ("月", (3, 2, 1))),
    (
        re.compile(rf"(?P<d>\d{{1,2}})\s(?P<mon>{_MONTHS})\.?,?\s(?P<y>\d{{4}})", re.I),
        "dmony",
        (_YEAR_AFTER_SPACE, _YEAR_OFFSETS),
    ),
    # The lookahead changes no match (every month name starts with one of these letters,
    # and re.I folds both alike); it lets the scan skip most positions without trying
    # each name: about 15x faster on Chinese text, 3x on English.
    (
        re.compile(
            rf"(?=[adfjmnos])(?P<mon>{_MONTHS})\.?\s(?P<d>\d{{1,2}}),?\s(?P<y>\d{{4}})", re.I
        ),
        "dmony",
        (_YEAR_AFTER_SPACE, _YEAR_OFFSETS),
    ),
]
# A bare number (no currency sign or unit) that belongs to a name or an id: glued to a
# Latin letter or to an id mark (C1000, INV-1000, #1000, No.1000, 1000A), after a
# capitalised word (Room 1000, Building 1000) or a Chinese word naming a thing (客户1000,
# 1000号). Unless a money word stands right before it (共计1000, Total 1000): that is an
# amount written without its sign, and it is checked.
_ID_BEFORE = re.compile(r"(?:[A-Za-z][-_/.#]?|\w[-_/#]|#|\bNo\.?\s?|№\s?)$", re.IGNORECASE)
_NAME_WORD_BEFORE = re.compile(r"(?<![A-Za-z])[A-Z][a-z]+\s$")
_ID_AFTER = re.compile(r"[A-Za-z]|[号室楼栋层房户店铺仓库组部区路街弄]")
# A count, not an amount: 1000天 (days overdue), 1000 items. 日元 is a currency.
_COUNT_AFTER = re.compile(r"\s?(?:[天笔个次期]|日(?!元)|(?:days?|items?|invoices?)\b)", re.I)
_CJK_NAME_BEFORE = re.compile(
    r"(?:客户|公司|编号|单号|工号|账号|户号|房间?|室|楼|栋|号|店|门店|仓库?|组|部)$"
)
_MONEY_WORDS_ZH = ("金额", "共计", "合计", "总计", "总额", "欠款", "欠", "应付", "应还",
                   "应缴", "余额", "未付", "尚欠", "付款", "支付", "还款", "罚息", "滞纳金", "本金",
                   "款项", "共", "计", "额", "费")  # fmt: skip
_MONEY_WORDS_EN = frozenset({"amount", "total", "balance", "owed", "owe", "owing", "due",
                             "pay", "paid", "payment", "penalty", "outstanding", "sum", "fee",
                             "price", "principal", "overdue", "remaining", "of"})  # fmt: skip
_PERCENT = re.compile(r"\d+(?:\.\d+)?\s?[%％]")
_TWO_DECIMALS = re.compile(r"\d+\.\d{2}")
_DIGIT = re.compile(r"\d")  # the same digits as \d in _MONEY
_CENT = Decimal("0.01")


def lint(
    body: str,
    facts: LintFacts,
    policy: LintPolicy,
    *,
    subject: str | None = None,
    segments: int | None = None,
    max_segments: int | None = None,
) -> list[LintProblem]:
    """Every rule the text breaks; an empty list means it may be approved."""
    problems: list[LintProblem] = []
    text = body if subject is None else f"{subject}\n{body}"
    lowered = text.lower()
    read = _as_read(text)  # for the word rules: what a person reads, not how it is spelled
    hidden = sorted({f"U+{ord(c):04X}" for c in _INVISIBLE.findall(text)})
    if hidden:
        problems.append(LintProblem(
            "invisible_characters", f"{', '.join(hidden)}: characters a reader cannot see",
        ))  # fmt: skip

    if not facts.legal_authorised:
        problems += _words("legal_threat", read, policy.legal_words,
                           "legal action is not decided for this customer")  # fmt: skip
    problems += _words("insult", read, policy.insult_words, "insulting wording")
    problems += _words("accusation", read, policy.accusation_words,
                       "accusatory or contemptuous wording")  # fmt: skip
    problems += _words("impersonation", read, policy.impersonation_words,
                       "must not speak as or invoke an authority")  # fmt: skip
    problems += _words("third_party", read, policy.third_party_words,
                       "only the debtor may be addressed or named")  # fmt: skip
    if subject is not None:
        problems += _words("subject_not_neutral", _as_read(subject), policy.subject_words,
                           "the subject line must not reveal a debt to a bystander")  # fmt: skip

    # Ids and the creditor's phone first: an invoice "INV-2026-03-01" is not a date.
    # The cheap substring tests only skip scans that could not match.
    stripped = _without_links(text, lowered)
    for token in facts.ignore:
        if token:
            stripped = stripped.replace(token, " ")
    stripped, found_dates = _extract_dates(stripped)
    for day in sorted(found_dates - facts.dates):
        problems.append(
            LintProblem("wrong_date", f"{day.isoformat()} is none of this customer's dates")
        )
    if "%" in stripped or "％" in stripped:
        stripped = _without_percents(stripped)
    for raw in _unknown_amounts(stripped, facts.amounts):
        problems.append(LintProblem("wrong_amount", f"{raw.strip()} matches no amount owed"))

    if facts.channel == "email" and facts.opt_out_link and UNSUBSCRIBE_MARK not in body:
        problems.append(LintProblem(
            "unsubscribe_missing",
            f"the e-mail must keep its opt-out line with the link mark {UNSUBSCRIBE_MARK}",
        ))  # fmt: skip
    if facts.channel == "sms":
        line = policy.opt_out_lines.get(facts.locale)
        if line and line.lower() not in lowered:
            problems.append(
                LintProblem("opt_out_missing", f"the SMS must keep the opt-out line {line!r}")
            )
        if segments is not None and max_segments is not None and segments > max_segments:
            problems.append(
                LintProblem("sms_too_long", f"{segments} segments, at most {max_segments}")
            )
    return problems


def _as_read(text: str) -> str:
    """The text as a person reads it: full-width and compatibility forms folded (ＬＡＷＳＵＩＴ),
    invisible characters dropped, gaps inside Chinese words closed, lower case. Plain
    ASCII text (most English messages) needs only the lower case."""
    if text.isascii():
        return text.lower()
    folded = _nfkc(text)
    if _INVISIBLE.search(folded):
        folded = _INVISIBLE.sub("", folded)
    for quote in _QUOTES:
        if quote in folded:  # str.translate looks up every character: 30 µs a message
            folded = folded.replace(quote, "'")
    return _CJK_GAP.sub("", folded).lower()


def _nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, about 6x faster on Chinese text: its
    full-width punctuation (，：！) is what usually keeps it from being NFKC already. Each
    full-width form's NFKD is its ASCII letter alone, so replacing them first leaves the
    NFKC the same; what is then NFKC already (checked exactly) needs nothing more."""
    for char in set(_FULL_WIDTH.findall(text)):
        text = text.replace(char, chr(ord(char) - 0xFEE0))
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _words(rule: str, lowered: str, words: Iterable[str], why: str) -> list[LintProblem]:
    listed = tuple(words)
    if _any_of(listed).search(lowered) is None:
        return []  # no word of the list even as a substring: one scan instead of one a word
    hits = []
    for word, w in _lowered(listed):
        if w not in lowered:
            continue  # no pattern below can match without the word as a substring
        pattern = _whole_word(w)
        if pattern is None or pattern.search(lowered):
            hits.append(word)
    if not hits:
        return []
    return [LintProblem(rule, f"{', '.join(repr(h) for h in hits)}: {why}")]


@lru_cache(maxsize=64)
def _lowered(words: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Each word with its lower case, once per word list (not once per message)."""
    return tuple((word, word.lower()) for word in words)


@lru_cache(maxsize=64)
def _any_of(words: tuple[str, ...]) -> re.Pattern[str]:
    """Matches where any of the (lower-cased) words occurs as a substring; never matches
    for an empty list. One regex scan (its first-character set skips most positions)
    costs about as much as three substring tests."""
    if not words:
        return re.compile(r"(?!)")
    return re.compile("|".join(re.escape(w.lower()) for w in sorted(words, key=len, reverse=True)))


@lru_cache(maxsize=1024)
def _whole_word(w: str) -> re.Pattern[str] | None:
    """Latin words match whole words only ("sue" must not hit "issue"); CJK words match as
    substrings (None: the substring test is the whole check). Compiled once per word."""
    return re.compile(rf"(?<![a-z]){re.escape(w)}(?![a-z])") if w.isascii() else None


def _extract_dates(text: str) -> tuple[str, set[date]]:
    found: set[date] = set()
    # Blanking a date never makes a month name (a space stands between what it joins), so
    # a text without one now has none for either "dmony" form.
    months = _MONTH_START.search(text) is not None
    known: tuple[object, str, list[int]] | None = None  # the last anchor's positions
    for pattern, kind, (anchor, offsets) in _DATES:
        if kind == "dmony" and not months:
            continue
        if known is not None and known[0] is anchor and known[1] is text:
            positions = known[2]  # the same anchor in the same text (nothing blanked)
        else:
            positions = _positions(text, anchor)
            known = (anchor, text, positions)
        matches = _anchored(pattern, text, positions, offsets)
        if not matches:
            continue
        for match in matches:
            parts = match.groupdict()
            try:
                # casefold, as re.I reads the name: "ſep" is September, not unknown
                month = _MONTH_NUM[parts["mon"].casefold()] if kind == "dmony" else int(parts["m"])
                year = int(parts["y"]) if "y" in parts and parts.get("y") else None
                if year is None:
                    continue  # month/day without a year: checked via the full form only
                found.add(date(year, month, int(parts["d"])))
            except (ValueError, KeyError):
                continue
        text = _blanked(text, matches)
    return text, found


def _positions(text: str, anchor: str | re.Pattern[str]) -> list[int]:
    """Where ``anchor`` occurs in ``text``: every index of a string; every start of a
    pattern whose matches cannot overlap (``\\s\\d{4}``: a match starts with a space and
    holds none), so ``finditer`` finds them all."""
    if isinstance(anchor, re.Pattern):
        return [match.start() for match in anchor.finditer(text)]
    found = []
    at = text.find(anchor)
    while at >= 0:
        found.append(at)
        at = text.find(anchor, at + 1)
    return found


def _anchored(
    pattern: re.Pattern[str], text: str, anchors: list[int], offsets: tuple[int, ...]
) -> list[re.Match[str]]:
    """``list(pattern.finditer(text))`` for a pattern whose every match holds its anchor
    (found at ``anchors``) at one of ``offsets`` from its start: only those starts are
    tried, in the order the scan would reach them (the same matches; the regex scan tries
    every position, about 10 µs a pattern on a Chinese e-mail)."""
    if not anchors:
        return []
    starts = {at - offset for at in anchors for offset in offsets if at >= offset}
    matches: list[re.Match[str]] = []
    end = 0
    for start in sorted(starts):
        if start >= end and (match := pattern.match(text, start)) is not None:
            matches.append(match)
            end = match.end()
    return matches


def _blanked(text: str, matches: list[re.Match[str]]) -> str:
    """``pattern.sub(" ", text)`` from the matches ``pattern.finditer(text)`` found (the
    same matches: sub scans the same way), without scanning the text a second time."""
    pieces: list[str] = []
    last = 0
    for match in matches:
        pieces += (text[last : match.start()], " ")
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


def _without_links(text: str, lowered: str) -> str:
    """``_URL.sub(" ", text)`` where a link may start ("http" or "www." in the lower-cased
    text), trying only the starts where the lower-cased text has one (the same matches:
    no other character folds to h, t, p or w, so a link starts only there). A text whose
    lower case has another length (a letter lower-cased to two) is scanned whole."""
    if "http" not in lowered and "www." not in lowered:
        return text
    if len(lowered) != len(text):
        return _URL.sub(" ", text)
    starts = [*_positions(lowered, "http"), *_positions(lowered, "www.")]
    return _blanked(text, _anchored(_URL, text, starts, (0,)))


def _without_percents(text: str) -> str:
    """``_PERCENT.sub(" ", text)``, searching only the run of digits, points and the one
    space before each percent sign (the only characters a match holds before its sign;
    the regex scan tries every digit of the text, about 12 µs on a Chinese e-mail). The
    same matches: ``\\d`` is ``str.isdecimal`` and ``\\s`` is ``str.isspace`` in a str
    pattern."""
    matches: list[re.Match[str]] = []
    end = 0
    for sign in sorted({*_positions(text, "%"), *_positions(text, "％")}):
        start = sign
        if start > end and text[start - 1].isspace():
            start -= 1
        while start > end and (text[start - 1].isdecimal() or text[start - 1] == "."):
            start -= 1
        if (match := _PERCENT.search(text, start, sign + 1)) is not None:
            matches.append(match)
            end = match.end()
    return _blanked(text, matches)


def _cents(value: Decimal) -> Decimal | None:
    """``value`` to the cent; None for a number too long to be one (more digits than the
    decimal context holds: no amount owed is that large)."""
    try:
        return value.quantize(_CENT)
    except InvalidOperation:
        return None


def _money_matches(text: str) -> Iterator[re.Match[str]]:
    """``_MONEY.finditer(text)``, about 2x faster: a match holds a digit at most 4
    characters after its start (a currency of at most 3, a space), so the scan starts 4
    before the next digit; and a digit always starts a match (``\\d+``), so the search
    never runs past it. The same matches, in the same order."""
    pos = 0
    while (digit := _DIGIT.search(text, pos)) is not None:
        match = _MONEY.search(text, max(pos, digit.start() - 4))
        if match is None:  # cannot happen (see above); kept for safety
            return
        yield match
        pos = match.end()


def _unknown_amounts(text: str, known: frozenset[Decimal]) -> list[str]:
    """The money-looking numbers that match no amount in ``known``, as written. Money-
    looking: with a currency sign or unit, a thousands separator or exactly two decimals,
    or four digits and more; smaller bare integers are counts of items or days. A bare
    number that belongs to a name or an id is not an amount; whether it does is asked
    only of a number that matches nothing known (an amount stated truly passes either
    way)."""
    result = []
    for match in _money_matches(text):
        num = match.group("num")
        has_unit = bool(match.group("cur") or match.group("suffix"))
        looks_money = (
            has_unit
            or "," in num
            or _TWO_DECIMALS.fullmatch(num) is not None
            or (num.isdigit() and len(num) >= 4)
        )
        if not looks_money:
            continue
        try:
            value = Decimal(num.replace(",", ""))
        except InvalidOperation:
            continue
        suffix = (match.group("suffix") or "").strip()
        if suffix == "万元":
            value *= 10_000
        if _cents(value) in known:
            continue
        if not has_unit and _part_of_name(text, match.start("num"), match.end("num")):
            continue
        result.append(match.group(0))
    return result


def _part_of_name(text: str, start: int, end: int) -> bool:
    """Whether the bare number at text[start:end] belongs to a name or an id rather than
    stating an amount (see _ID_BEFORE)."""
    before = text[max(0, start - 12) : start]
    if _after_money_word(before):
        return False
    if _ID_BEFORE.search(before) or _ID_AFTER.match(text, end) or _COUNT_AFTER.match(text, end):
        return True
    if _NAME_WORD_BEFORE.search(before):
        return True
    return bool(_CJK_NAME_BEFORE.search(before.rstrip(" :：为是")))


def _after_money_word(before: str) -> bool:
    trimmed = before.rstrip(" :：为是")
    if trimmed.endswith(_MONEY_WORDS_ZH):
        return True
    words = re.findall(r"[A-Za-z]+", trimmed[-12:])
    return bool(words) and trimmed.endswith(words[-1]) and words[-1].lower() in _MONEY_WORDS_EN


def facts_amounts(values: Iterable[Decimal]) -> frozenset[Decimal]:
    """The amounts to the cent; equal values (a message states most amounts more than
    once: 0, a total that is also one item's) rounded once."""
    return frozenset(Decimal(v).quantize(_CENT) for v in set(values))
