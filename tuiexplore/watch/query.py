"""Watch's `/` filter: words and ``field:value`` terms, every one of which a row must match.

A plain word matches where a word of the row starts, so ``rst`` finds `RST by client` and
`FIN then RST` but not `client first`, and ``5002`` finds `127.0.0.1:5002`. A term whose name is
one of ``FIELDS`` looks in that field only (``end:RST``, ``process:nginx``); ports and pids are
numbers, matched whole (``port:80`` is not 8080). Anything else, an IPv6 address included, is a
plain word. Case is ignored. The row's values come from the caller, so this knows nothing of
the screen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# name -> what it matches (the manual's list); a row gives each as a sequence of strings
FIELDS: dict[str, str] = {
    "end": "how it ended: `FIN/FIN`, `FIN then RST`, `RST`, `refused`, `timeout`, `open`",
    "cause": "the branch id or wire class, e.g. `data_was_unread`",
    "summary": "the row's words, e.g. `RST by client: unread data`",
    "evidence": "`tracepoint` or `wire`",
    "state": "the connection's state, e.g. `CLOSED`, `ESTABLISHED`",
    "client": "the client's `ip:port`",
    "server": "the server's `ip:port`",
    "host": "either end's address",
    "port": "either end's port, whole",
    "process": "either end's process name",
    "pid": "either end's pid, whole",
}
WHOLE = {"port", "pid"}


@dataclass(frozen=True)
class Term:
    field: str | None  # None: any of the row's words
    value: str

    def matches(self, row: Mapping[str, Sequence[str]]) -> bool:
        if self.field in WHOLE:
            return any(v.lower() == self.value for v in row.get(self.field, ()))
        pattern = re.compile(r"(?<![a-z0-9_])" + re.escape(self.value))
        values = row.get(self.field, ()) if self.field else [v for vs in row.values() for v in vs]
        return any(pattern.search(v.lower()) for v in values)


def parse(text: str) -> list[Term]:
    terms = []
    for word in text.lower().split():
        name, colon, value = word.partition(":")
        if colon and name in FIELDS and value:
            terms.append(Term(name, value))
        elif not (colon and name in FIELDS):  # "end:" alone, as typed so far, filters nothing yet
            terms.append(Term(None, word))
    return terms


def matches(terms: Sequence[Term], row: Mapping[str, Sequence[str]]) -> bool:
    return all(t.matches(row) for t in terms)
