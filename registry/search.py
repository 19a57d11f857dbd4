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


def rank(metrics: list[dict[str, Any]], query: str, limit: int = 20) -> list[Hit]:
    """The metrics that match a query, best first (at most `limit`)."""
    wanted = [w for w in dict.fromkeys(words(query)) if w not in STOP_WORDS] or words(query)
    if not wanted:
        return []
    indexed = [(m, _fields(m)) for m in metrics]
    vocabulary = [set().union(*f.values()) for _, f in indexed]
    rarity = {
        w: math.log(1 + len(metrics) / (1 + sum(1 for v in vocabulary if w in v))) for w in wanted
    }
    hits = []
    for metric, fields in indexed:
        hit = Hit(metric, 0.0)
        found = 0
        for query_word in wanted:
            scores = []
            for name, field_words in fields.items():
                quality = max((_match(query_word, w) for w in field_words), default=0.0)
                if quality:
                    hit.matched.setdefault(query_word, []).append(name)
                    scores.append(quality * FIELD_WEIGHTS[name])
            if scores:
                best = max(scores)
                weight = best + _ECHO * (sum(scores) - best)
                hit.score += weight * (0.5 + rarity[query_word])
                found += 1
        if hit.score and fields["name"] and fields["name"] <= set(wanted):
            hit.score += _NAMED  # the question names the metric itself ("what is our MRR")
        if hit.score:
            hit.score *= (found / len(wanted)) ** 2  # most of the question, not one word of it
            hits.append(hit)
    hits.sort(key=lambda h: (-h.score, h.metric["id"]))
    if hits:  # a word every description shares ("month") is not a reason to list a metric
        hits = [h for h in hits if h.score >= _RELEVANT * hits[0].score]
    return hits[:limit]
