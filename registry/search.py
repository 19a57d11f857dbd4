"""Ranked search: finds the metric a person or an agent means from plain words.

One implementation for every door. The query and each metric's id, name, display name,
synonyms, description, notes, tables and dimensions are cut into words: case folded, `_`
and punctuation as spaces, simple plurals made singular. A query word matches a metric word
exactly, by prefix (`month` / `monthly`), or with one typo (`recuring`); words that many
metrics share (`revenue`) count for less than rare ones (`churn`), and a metric that matches
more of the query ranks higher. Every result says which words matched where.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Where a word is found, and how much that says about the metric.
FIELD_WEIGHTS: dict[str, float] = {
    "name": 3.0,
    "display_name": 3.0,
    "synonyms": 3.0,
    "category": 1.0,
    "description": 1.5,
    "notes": 1.2,
    "table_name": 1.0,
    "tables": 0.8,
    "dimensions": 1.0,
}
# Words that say nothing about which metric is meant.
STOP_WORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from"}
    | {"get", "got", "have", "how", "in", "is", "it", "many", "much", "of", "on", "or", "our"}
    | {"per", "show", "the", "this", "to", "was", "we", "what", "when", "which", "who", "with"}
)
# Concepts people ask for in other words than the metrics use: a query word (singular, lower
# case) stands for the metric words after it. The metric's own synonyms are matched as words
# of the metric; this vocabulary carries what no one metric should have to list.
VOCABULARY: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("left", "leave", "leaving", "lost", "lose", "losing", "quit", "attrition"), ("churn",)
    ),
    **dict.fromkeys(
        ("cancel", "cancelled", "canceled", "cancellation", "cancelling", "churned"), ("churn",)
    ),
    **dict.fromkeys(("signed", "signup", "joined", "acquired", "acquisition"), ("new",)),
    **dict.fromkeys(("logo", "first"), ("new",)),
    **dict.fromkeys(("recurring",), ("mrr",)),
    **dict.fromkeys(("yearly", "annualised", "annualized", "annual"), ("arr",)),
    **dict.fromkeys(("sales", "sold", "turnover", "income", "earning"), ("revenue",)),
    **dict.fromkeys(
        ("usage", "engaged", "engagement", "login", "logged", "signin"), ("active", "mau")
    ),
    **dict.fromkeys(("spend", "bill", "billing", "aws", "gcp", "azure", "server"), ("cost",)),
    **dict.fromkeys(("deal", "opportunity", "forecast", "funnel"), ("pipeline",)),
    **dict.fromkeys(("upgrade", "upsell", "grow", "growth", "expand"), ("expansion",)),
    **dict.fromkeys(("ticket", "helpdesk", "fix", "fixed", "solve", "solved"), ("resolution",)),
    **dict.fromkeys(("uptake", "using", "use", "used"), ("adoption",)),
}
_ECHO = 0.15  # what each further field that holds a word adds to its best one
_NAMED = 4.0  # for a question holding every word of the metric's name
_RELEVANT = 0.25  # results scoring under this share of the best one are left out
_WORD = re.compile(r"[a-z0-9]+")
_EXACT, _PREFIX, _TYPO = 1.0, 0.75, 0.6


@functools.lru_cache(maxsize=65_536)  # a registry repeats its words: each is cut once
def singular(word: str) -> str:
    """A simple plural made singular (customers -> customer, fees -> fee, hours -> hour)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """The words of a text: lower case, `_` and punctuation as spaces, plurals singular."""
    return [singular(w) for w in _WORD.findall(text.lower().replace("_", " "))]


def _one_typo(a: str, b: str) -> bool:
    """Whether two words of four letters or more differ by one edit (or one swap)."""
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        i, j = (diffs + [0, 0])[:2]
        return len(diffs) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _match(query_word: str, word: str) -> float:
    if query_word == word:
        return _EXACT
    if (
        len(query_word) >= 3
        and len(word) >= 3
        and (word.startswith(query_word) or query_word.startswith(word))
    ):
        return _PREFIX
    return _TYPO if _one_typo(query_word, word) else 0.0


@dataclass
class Hit:
    """One metric that matched: its score and why."""

    metric: dict[str, Any]
    score: float
    matched: dict[str, list[str]] = field(default_factory=dict)  # query word -> fields

    def reason(self) -> str:
        return "; ".join(f"{w} in {', '.join(f)}" for w, f in self.matched.items())


def _fields(metric: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name in FIELD_WEIGHTS:
        value = metric.get(name)
        texts: Iterable[str] = value if isinstance(value, list) else [value] if value else []
        found[name] = {w for text in texts for w in words(str(text))}
    return found


_FIELDS = tuple(FIELD_WEIGHTS)  # a field's bit in a posting's mask is its place here


class Index:
    """The words of many metrics: which metric holds which word in which fields, with
    lookups for a word's prefixes and its one-typo neighbours, so a question costs a few
    dictionary reads rather than a pass over every word.

    A posting is `metric:mask` (the mask's bits are the fields that hold the word), a word's
    postings one text: `data()` keeps an index as compact plain data (the embedded CLI keeps
    it in the database between calls), and `from_data` reads it back, decoding a word's
    postings only when a question needs them.
    """

    def __init__(
        self,
        ids: list[str],
        named: dict[str, list[int]],
        postings: dict[str, str],
        rows: list[dict[str, Any]] | None = None,
    ) -> None:
        self.ids = ids
        self.rows = rows  # the metric rows it was built from, if it was
        self.postings = postings  # word -> "metric:mask metric:mask ..."
        self.named = named  # a name's words, sorted and joined by spaces -> its metrics
        self._decoded: dict[str, list[tuple[int, int]]] = {}
        self._weights: dict[str, dict[int, float]] = {}  # filled as words are asked for
        self._sorted_words: list[str] | None = None

    @classmethod
    def of(cls, metrics: list[dict[str, Any]]) -> Index:
        """The index of metric rows (each with at least its id and category)."""
        postings: dict[str, dict[int, int]] = {}
        named: dict[str, list[int]] = {}
        for i, metric in enumerate(metrics):
            fields = _fields(metric)
            if fields["name"]:
                named.setdefault(" ".join(sorted(fields["name"])), []).append(i)
            for bit, field_name in enumerate(_FIELDS):
                for word in fields[field_name]:
                    held = postings.setdefault(word, {})
                    held[i] = held.get(i, 0) | (1 << bit)
        texts = {w: " ".join(f"{i}:{m}" for i, m in held.items()) for w, held in postings.items()}
        return cls([str(m["id"]) for m in metrics], named, texts, metrics)

    def data(self) -> dict[str, Any]:
        """The index as compact plain data (JSON)."""
        return {"ids": self.ids, "named": self.named, "postings": self.postings}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Index:
        return cls(data["ids"], data["named"], data["postings"])

    def __len__(self) -> int:
        return len(self.ids)

    def metric(self, i: int) -> dict[str, Any]:
        """A metric's row, or (an index read back) its id and category."""
        if self.rows is not None:
            return self.rows[i]
        return {"id": self.ids[i], "category": self.ids[i].partition("/")[0]}

    def posting(self, word: str) -> list[tuple[int, int]]:
        """The metrics that hold a word, each with the mask of its fields that do."""
        found = self._decoded.get(word)
        if found is None:
            found = [
                (int(i), int(m))
                for i, _, m in (p.partition(":") for p in self.postings.get(word, "").split())
            ]
            self._decoded[word] = found
        return found

    def fields(self, word: str, metric: int) -> list[str]:
        """The fields of one metric that hold a word, in FIELD_WEIGHTS' order."""
        mask = next((m for i, m in self.posting(word) if i == metric), 0)
        return [f for bit, f in enumerate(_FIELDS) if mask & (1 << bit)]

    def weights(self, word: str) -> dict[int, float]:
        """What a word is worth in each metric that holds it: its best field, and an echo of
        the others that hold it too (worked out on first use, then kept)."""
        worth = self._weights.get(word)
        if worth is None:
            worth = {}
            for i, mask in self.posting(word):
                scores = [FIELD_WEIGHTS[f] for bit, f in enumerate(_FIELDS) if mask & (1 << bit)]
                best = max(scores)
                worth[i] = best + _ECHO * (sum(scores) - best)
            self._weights[word] = worth
        return worth

    @property
    def sorted_words(self) -> list[str]:
        if self._sorted_words is None:
            self._sorted_words = sorted(self.postings)
        return self._sorted_words

    def spread(self, word: str) -> int:
        """How many metrics hold a word."""
        return len(self.posting(word)) if word in self.postings else 0

    def similar(self, query_word: str) -> dict[str, float]:
        """The index's words a query word matches, with how well: exactly, by prefix either
        way (three letters or more), or by one typo (four letters or more)."""
        found: dict[str, float] = {}
        if query_word in self.postings:
            found[query_word] = _EXACT
        if len(query_word) >= 3:
            start = bisect.bisect_left(self.sorted_words, query_word)
            for word in itertools.islice(self.sorted_words, start, None):
                if not word.startswith(query_word):
                    break
                found.setdefault(word, _PREFIX)
            for end in range(3, len(query_word)):
                if query_word[:end] in self.postings:
                    found.setdefault(query_word[:end], _PREFIX)
        if len(query_word) >= _TYPO_LENGTH - 1:
            for word in _one_edit(query_word):
                if word in self.postings and word not in found and _one_typo(query_word, word):
                    found[word] = _TYPO
        return found


_TYPO_LENGTH = 4


_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _one_edit(word: str) -> set[str]:
    """Every text one edit away from a word: a letter left out, swapped with the next, put
    in, or changed (a few hundred dictionary lookups, no index of its own)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    return out


def rank(metrics: list[dict[str, Any]] | Index, query: str, limit: int = 20) -> list[Hit]:
    """The metrics that match a query, best first (at most `limit`). Pass an `Index` to rank
    many questions against the same metrics without cutting them into words each time.

    Each question word is one slot; a word of the vocabulary also stands for its concept's
    words (`left` for `churn`), and the slot takes the better of them."""
    index = metrics if isinstance(metrics, Index) else Index.of(metrics)
    asked = [w for w in dict.fromkeys(words(query)) if w not in STOP_WORDS] or words(query)
    if not asked:
        return []
    total = len(index)
    scores: dict[int, float] = {}
    found: dict[int, int] = {}
    why: dict[int, dict[str, str]] = {}  # metric -> question word -> the index word it met
    for query_word in asked:
        slot: dict[int, float] = {}
        met: dict[int, tuple[str, str]] = {}
        for alternative in (query_word, *VOCABULARY.get(query_word, ())):
            rarity = 0.5 + math.log(1 + total / (1 + index.spread(alternative)))
            for word, quality in index.similar(alternative).items():
                factor = quality * rarity
                for i, worth in index.weights(word).items():
                    value = worth * factor
                    if value > slot.get(i, 0.0):
                        slot[i] = value
                        met[i] = (alternative, word)
        for i, value in slot.items():
            scores[i] = scores.get(i, 0.0) + value
            found[i] = found.get(i, 0) + 1
            alternative, word = met[i]
            shown = query_word if alternative == query_word else f"{query_word} ({alternative})"
            why.setdefault(i, {})[shown] = word
    asked_set = frozenset(asked)
    for size in range(1, min(len(asked), 4) + 1):  # the question names a metric ("our MRR")
        for subset in itertools.combinations(sorted(asked_set), size):
            for i in index.named.get(" ".join(subset), ()):
                if i in scores:
                    scores[i] += _NAMED
    final = {i: score * (found[i] / len(asked)) ** 2 for i, score in scores.items()}
    best = heapq.nlargest(limit, final, key=lambda i: (final[i], _Desc(index.ids[i])))
    if not best:
        return []
    floor = _RELEVANT * final[best[0]]  # a word every description shares is not a reason
    return [
        Hit(
            index.metric(i),
            final[i],
            {q: index.fields(w, i) for q, w in why[i].items()},
        )
        for i in best
        if final[i] >= floor
    ]


class _Desc(str):
    """A text that sorts backwards: ties in score go to the smaller id first."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)
