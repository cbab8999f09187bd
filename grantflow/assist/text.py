"""Words: normalizing, stemming, synonyms, query terms, fuzzy matching and durations said in words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from grantflow.domain.durations import parse_duration

MAX_TEXT = 2000
MAX_JUSTIFICATION = 3000
_MAX_MENTIONS = 12

# Query words mapped to catalog words, so that plain language meets config vocabulary.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "db": ("database",),
    "dbs": ("database",),
    "databases": ("database",),
    "postgres": ("postgresql", "database", "sql"),
    "pg": ("postgresql", "database"),
    "psql": ("postgresql", "database"),
    "mariadb": ("mysql", "database", "sql"),
    "maria": ("mysql", "database"),
    "sql": ("database",),
    "amazon": ("aws",),
    "iam": ("aws", "role"),
    "query": ("read", "database"),
    "queries": ("read", "database"),
    "row": ("table",),
    "rows": ("table",),
    "record": ("table",),
    "records": ("table",),
    "directory": ("folder",),
    "dir": ("folder",),
    "share": ("folder",),
    "drive": ("folder",),
    "file": ("folder", "files"),
    "files": ("folder",),
    "report": ("reports",),
    "spreadsheet": ("reports", "files"),
    "document": ("files",),
    "documents": ("files",),
    "oncall": ("on", "call"),
    "pager": ("on", "call"),
    "incident": ("on", "call", "debug"),
    "outage": ("on", "call", "debug"),
    "troubleshoot": ("debug",),
    "payment": ("payments",),
    "billing": ("payments", "finance"),
    "invoice": ("finance", "payments"),
    "invoices": ("finance", "payments"),
    "accounting": ("finance",),
    "revenue": ("sales", "finance"),
    "customer": ("customers",),
    "client": ("customers",),
    "clients": ("customers",),
    "order": ("orders",),
    "purchase": ("orders",),
    "purchases": ("orders",),
}


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


READ_WORDS = _wordset(
    "read view look see check inspect query select debug investigate troubleshoot audit analyse analyze "
    "review browse peek readonly read-only download export"
)
WRITE_WORDS = _wordset(
    "write edit update fix modify change correct insert delete remove upload patch backfill repair "
    "clean cleanup amend rewrite"
)
ADMIN_WORDS = _wordset("admin administer drop create migrate migration alter superuser ddl")

STOPWORDS = _wordset(
    "a an and are as at be but by can could do for from get give have i i'm im in into is it its just me my "
    "need needs of on or our please some that the their them this to too up us want we with would you your "
    "access permission permissions able so like let lets going go got while about there here then than "
    "all any also am been being did does doing done had has how if more most much must no not now only "
    "other over own same should such very what when where which who why will"
)
# Words that carry the intent or the duration; they never name a resource.
_NOT_NAMES = (
    STOPWORDS
    | READ_WORDS
    | WRITE_WORDS
    | ADMIN_WORDS
    | _wordset(
        "hour hours minute minutes min mins day days week weeks second seconds today tonight tomorrow "
        "failed failing broken bad new old"
    )
)

_TYPE_WORDS: dict[str, frozenset[str]] = {
    "database": frozenset({"database", "databases", "db", "dbs"}),
    "schema": frozenset({"schema", "schemas"}),
    "table": frozenset({"table", "tables"}),
}
_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*(?:\.[a-z_][a-z0-9_$]*){0,2}$")
_DOTTED = re.compile(r"(?<![\w.])([a-z_][a-z0-9_$]*(?:\.[a-z_][a-z0-9_$]*){1,2})(?![\w.])")
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def stem(word: str) -> str:
    """A tiny suffix stripper: enough for "orders"/"order", "debugging"/"debug", "payments"/"payment"."""
    w = word
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
        if len(w) > 2 and w[-1] == w[-2]:
            w = w[:-1]
    elif len(w) > 4 and w.endswith("ied"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    elif len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return w


def words(text: str) -> list[str]:
    return [w.replace("'", "") for w in _WORD.findall(normalize(text))]


def terms(text: str) -> list[str]:
    """Stemmed content words of a catalog text; identifiers are split on '-', '_' and '.'."""
    out: list[str] = []
    for w in words(text.replace("_", " ").replace(".", " ")):
        for part in w.split("-"):
            if part and part not in STOPWORDS:
                out.append(stem(part))
    return out


def weighted_query_terms(text: str, synonyms: bool = True) -> dict[str, float]:
    """Stemmed content words of the sentence (weight 1) plus their synonyms, closest first (0.8, 0.6, ...)."""
    out: dict[str, float] = {}
    for w in words(text.replace("_", " ").replace(".", " ")):
        if w in STOPWORDS or len(w) < 2 or w.isdigit():
            continue
        for part in (w, *w.split("-")) if "-" in w else (w,):
            if part in STOPWORDS:
                continue
            out[stem(part)] = 1.0
            for n, syn in enumerate(SYNONYMS.get(part, ()) if synonyms else ()):
                key = stem(syn)
                out[key] = max(out.get(key, 0.0), max(0.4, 0.8 - 0.2 * n))
    return out


def query_terms(text: str, synonyms: bool = True) -> list[str]:
    return list(weighted_query_terms(text, synonyms))


_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "sixty": 60,
    "ninety": 90,
    "couple": 2,
    "few": 3,
}
_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_NUM = r"(\d+(?:[.,]\d+)?|" + "|".join(sorted((re.escape(k) for k in _NUMBER_WORDS), key=len, reverse=True)) + ")"
_UNIT = r"(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")"
_DURATION = re.compile(r"(?<![\w.])" + _NUM + r"(?:\s+of)?\s*" + _UNIT + r"(?![\w])")
_COMPACT = re.compile(r"(?<![\w.])((?:\d+[smhdw]){2,})(?!\w)")
_HALF_HOUR = re.compile(r"\bhalf\s+(?:an\s+)?hour\b")
_HALF_DAY = re.compile(r"\bhalf\s+(?:a\s+)?day\b")
_DAYLONG = re.compile(r"\b(?:the\s+(?:whole\s+|rest\s+of\s+the\s+)?day|today|all\s+day)\b")


def parse_duration_phrase(text: str) -> int | None:
    """Seconds named in a sentence ("for an hour", "30 minutes", "2h", "1h30m", "half an hour"), or None.

    Parts that follow each other add up ("1 hour 30 minutes"); "today"/"the day" mean 8 hours.
    """
    t = normalize(text)
    total = 0
    found = False
    for m in _COMPACT.finditer(t):
        total, found = total + parse_duration(m.group(1)), True
    t = _COMPACT.sub(" ", t)
    for pattern, seconds in ((_HALF_HOUR, 1800), (_HALF_DAY, 43200)):
        hits = len(pattern.findall(t))
        if hits:
            total, found = total + hits * seconds, True
            t = pattern.sub(" ", t)
    for m in _DURATION.finditer(t):
        num, unit = m.group(1), m.group(2)
        if num in ("a", "an") and len(unit) == 1:
            continue
        value = float(num.replace(",", ".")) if num[0].isdigit() else float(_NUMBER_WORDS[num])
        if value <= 0:
            continue
        total += round(value * _UNITS[unit])
        found = True
    if not found and _DAYLONG.search(t):
        return 8 * 3600
    return total if found and total > 0 else None


def _duration_spans(text: str) -> str:
    """The sentence without its duration phrases, so "2 hours" does not look like a resource named "2"."""
    t = _COMPACT.sub(" ", normalize(text))
    t = _HALF_HOUR.sub(" ", t)
    t = _HALF_DAY.sub(" ", t)
    return _DURATION.sub(" ", t)


_INTENT_STEMS = frozenset(stem(w) for w in READ_WORDS | WRITE_WORDS | ADMIN_WORDS) - {"debug"}


def intent(qterms: Iterable[str]) -> str:
    qs = set(qterms)
    stems = {stem(w) for w in ADMIN_WORDS}
    if qs & stems:
        return "admin"
    if qs & {stem(w) for w in WRITE_WORDS}:
        return "write"
    return "read"


def _match(term: str, vocab: set[str], choices: list[str]) -> float:
    if term in vocab:
        return 1.0
    if len(term) < 4 or not choices:
        return 0.0
    best = process.extractOne(term, choices, scorer=DamerauLevenshtein.normalized_similarity, score_cutoff=0.8)
    return 0.8 * best[1] if best else 0.0
