"""Ranked search: finds the metric a person or an agent means from plain words.

One implementation for every door. The query and each metric's id, name, display name,
synonyms, description, notes, tables and dimensions are cut into words: case folded, `_`
and punctuation as spaces, simple plurals made singular. A query word matches a metric word
exactly, by prefix (`month` / `monthly`), or with one typo (`recuring`); words that many
metrics share (`revenue`) count for less than rare ones (`churn`), and a metric that matches
more of the query ranks higher. Every result says which words matched where.
"""

from __future__ import annotations

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
_ECHO = 0.15  # what each further field that holds a word adds to its best one
_NAMED = 4.0  # for a question holding every word of the metric's name
_RELEVANT = 0.25  # results scoring under this share of the best one are left out
_WORD = re.compile(r"[a-z0-9]+")
_EXACT, _PREFIX, _TYPO = 1.0, 0.75, 0.6


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


@dataclass(frozen=True)
class Index:
    """The words of many metrics, built once: which metric holds which word in which field."""

    metrics: list[dict[str, Any]]
    postings: dict[str, list[tuple[int, str]]]  # word -> (metric, field) that hold it
    names: list[set[str]]  # the words of each metric's name

    @classmethod
    def of(cls, metrics: list[dict[str, Any]]) -> Index:
        postings: dict[str, list[tuple[int, str]]] = {}
        names = []
        for i, metric in enumerate(metrics):
            fields = _fields(metric)
            names.append(fields["name"])
            for field_name, field_words in fields.items():
                for word in field_words:
                    postings.setdefault(word, []).append((i, field_name))
        return cls(metrics, postings, names)

    def spread(self, word: str) -> int:
        """How many metrics hold a word."""
        return len({i for i, _ in self.postings.get(word, ())})


def rank(metrics: list[dict[str, Any]] | Index, query: str, limit: int = 20) -> list[Hit]:
    """The metrics that match a query, best first (at most `limit`). Pass an `Index` to rank
    many questions against the same metrics without cutting them into words each time."""
    index = metrics if isinstance(metrics, Index) else Index.of(metrics)
    wanted = [w for w in dict.fromkeys(words(query)) if w not in STOP_WORDS] or words(query)
    if not wanted:
        return []
    total = len(index.metrics)
    hits: dict[int, Hit] = {}
    found: dict[int, int] = {}
    for query_word in wanted:
        rarity = math.log(1 + total / (1 + index.spread(query_word)))
        qualities: dict[int, dict[str, float]] = {}
        for word, postings in index.postings.items():
            quality = _match(query_word, word)
            if quality:
                for i, field_name in postings:
                    held = qualities.setdefault(i, {})
                    held[field_name] = max(held.get(field_name, 0.0), quality)
        for i, held in qualities.items():
            hit = hits.setdefault(i, Hit(index.metrics[i], 0.0))
            ordered = [f for f in FIELD_WEIGHTS if f in held]
            hit.matched[query_word] = ordered
            scores = [held[f] * FIELD_WEIGHTS[f] for f in ordered]
            best = max(scores)
            hit.score += (best + _ECHO * (sum(scores) - best)) * (0.5 + rarity)
            found[i] = found.get(i, 0) + 1
    ranked = []
    for i, hit in hits.items():
        if index.names[i] and index.names[i] <= set(wanted):
            hit.score += _NAMED  # the question names the metric itself ("what is our MRR")
        hit.score *= (found[i] / len(wanted)) ** 2  # most of the question, not one word of it
        ranked.append(hit)
    ranked.sort(key=lambda h: (-h.score, h.metric["id"]))
    if ranked:  # a word every description shares ("month") is not a reason to list a metric
        ranked = [h for h in ranked if h.score >= _RELEVANT * ranked[0].score]
    return ranked[:limit]
