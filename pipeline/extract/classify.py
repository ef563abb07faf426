"""Document kind from the visible content: the title a piece gives itself.

Each kind has title wordings (accent- and case-insensitive). A wording found on a line
scores by where and how it is printed: big text in the top third of page 1 is a title, the
same words in a sentence further down are a mention. Overlapping wordings go to the most
specific one ("projet de décompte général" is not also a "décompte général"). The
confidence is the winner's share of the total, damped when the evidence is thin, so two
competing kinds give a low confidence.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.extract.pdf_text import Line, Page, fold_text, group_lines
from pipeline.models import DocumentKind, KindGuess

K = DocumentKind


@dataclass(frozen=True)
class _Title:
    kind: DocumentKind
    pattern: re.Pattern[str]
    weight: float


def _title(kind: DocumentKind, pattern: str, weight: float) -> _Title:
    return _Title(kind, re.compile(pattern), weight)


_S = r"[\s-]+"
#: « PROJETDE DÉCOMPTE »: OCR loses the word space after a word set in large capitals.
_S_OR_GLUED = r"[\s-]*"
#: OCR reads the last letter of a large « GÉNÉRAL » as an I ("DECOMPTE GENERAI").
_GENERAL = r"genera[l1i|]"
TITLES: tuple[_Title, ...] = (
    _title(
        K.DECOMPTE_GENERAL_DEFINITIF,
        rf"\bdecompte{_S}{_GENERAL}{_S}(?:(?:et|&){_S})?definitif",
        3.0,
    ),
    # « DÉCOMPTE GÉNÉRAL (définitif) », « DÉCOMPTE GÉNÉRAL n° 4 — DGD », « décompte général
    # signé » (the platform's name for it: signed by the titulaire, it becomes definitive);
    # not « le décompte général deviendra définitif », which a décompte général says of
    # itself, nor « décompte général à retourner signé ».
    _title(
        K.DECOMPTE_GENERAL_DEFINITIF,
        rf"\bdecompte{_S}{_GENERAL}(?:\s+n\s?[°o]\s*\S+)?[\s(–—:,-]+"
        r"(?:definitif|d\.?g\.?d\b|signe\b)",
        3.0,
    ),
    _title(K.PROJET_DECOMPTE_GENERAL, rf"\bprojet{_S_OR_GLUED}de{_S}decompte{_S}{_GENERAL}", 3.0),
    _title(K.PROJET_DECOMPTE_FINAL, rf"\bprojet{_S_OR_GLUED}de{_S}decompte{_S}final", 3.0),
    _title(K.PROJET_DECOMPTE_MENSUEL, rf"\bprojet{_S_OR_GLUED}de{_S}decompte{_S}mensuel", 3.0),
    _title(K.DECOMPTE_GENERAL, rf"\bdecompte{_S}{_GENERAL}\b", 2.5),
    _title(K.DECOMPTE_GENERAL_DEFINITIF, r"(?:^|\t)\s*d\.?g\.?d\b", 2.0),
    _title(
        K.ETAT_ACOMPTE_VALIDE,
        rf"\betat{_S}d'{{0,1}}\s*acompte(?:{_S}mensuel)?(?:{_S}n\s?[°o]\s*\S+)?{_S}valide",
        3.0,
    ),
    _title(K.ETAT_ACOMPTE, rf"\betat{_S}d'{{0,1}}\s*acompte", 2.5),
    _title(
        K.DEMANDE_PAIEMENT_SOUS_TRAITANT,
        rf"\bdemande{_S}de{_S}paiement\b.{{0,60}}\bsous{_S}?traitan",
        3.0,
    ),
    _title(K.DEMANDE_PAIEMENT_SOUS_TRAITANT, rf"\bdemande{_S}de{_S}paiement{_S}direct", 2.5),
    _title(K.PROJET_DECOMPTE_MENSUEL, rf"\bprojet{_S_OR_GLUED}de{_S}decompte\b", 2.0),
    _title(K.PROJET_DECOMPTE_MENSUEL, rf"\bsituation{_S}(?:de{_S}travaux|mensuelle)\b", 1.2),
    _title(
        K.DEMANDE_PAIEMENT_SOUS_TRAITANT,
        rf"\bpaiement{_S}direct\b.{{0,40}}\bsous{_S}?traitan",
        1.5,
    ),
    _title(
        K.DEMANDE_PAIEMENT_SOUS_TRAITANT,
        rf"\bsous{_S}?traitan\w*\s+(?:en|au|avec|beneficiant\s+du)\s+paiement{_S}direct\b",
        1.5,
    ),
    _title(K.CREDIT_NOTE, rf"\bfacture{_S}d'avoir\b|\bnote{_S}de{_S}credit\b", 3.0),
    _title(K.CREDIT_NOTE, rf"(?:^|\t)\s*avoir\b(?!{_S}sur)|\bavoir{_S}n\s?[°o]", 2.0),
    _title(K.INVOICE, r"\bfacture\b(?!\s+(?:d'origine|initiale|associee|a\b))", 1.0),
    # English titles (« CREDIT NOTE », « INVOICE ») of bilingual or foreign layouts.
    _title(K.CREDIT_NOTE, rf"\bcredit{_S}note\b", 2.0),
    _title(K.INVOICE, r"(?:^|\t)\s*invoice\b(?!\s+(?:no\b|number|date|to\b))", 1.0),
)

_BARE_REQUEST_RE = re.compile(rf"\bdemande{_S}de{_S}paiement\b")
#: The titulaire's acceptance stated as done (« accepté sans réserve par le titulaire »):
#: a décompte général the titulaire has signed without reserve is the décompte général et
#: définitif it deposits (cadre A8, domain.md), whatever its title keeps of « définitif ».
#: Accepted « avec réserves », it is still a décompte général.
_ACCEPTED_RE = re.compile(
    r"\baccepte\s+(?:sans\s+reserves?\s+)?par\s+(?:le\s+|l'\s*)?(?:titulaire|entreprise)\b"
)
#: Words before it that make the acceptance a condition or a future (« une fois accepté »).
_NOT_YET_RE = re.compile(r"\b(?:sera|etre|fois|si|lorsqu'il\s+est|apres|des\s+qu'il\s+est)\s*$")
_SUBCONTRACTOR_RE = re.compile(rf"\bsous{_S}?traitan")
#: About what a title-sized specific wording at the top of page 1 scores.
_BARE_REQUEST_SCORE = 9.0

#: How much more a wording counts when it looks like a title.
_TOP_OF_FIRST_PAGE = 3.0
_REST_OF_FIRST_PAGE = 1.0
_OTHER_PAGES = 0.4
#: Evidence needed for full confidence (a title-sized wording at the top of page 1 of a
#: specific kind gives about this much).
_FULL_EVIDENCE = 6.0


def classify(pages: Sequence[Page]) -> KindGuess:
    """The kind of the piece with a confidence (0..1)."""
    scores: dict[DocumentKind, float] = defaultdict(float)
    heads: list[str] = []  # the first lines of each page
    names_subcontractor = accepted = False
    for page in sorted(pages, key=lambda p: p.number):
        lines = group_lines(page)
        if not lines:
            continue
        heads.extend(line.folded for line in lines[:12])
        names_subcontractor = names_subcontractor or any(
            _SUBCONTRACTOR_RE.search(line.folded) for line in lines
        )
        accepted = accepted or _states_acceptance(" ".join(line.folded for line in lines))
        body = statistics.median(w.height for line in lines for w in line.words)
        for index, line in enumerate(lines):
            wrapped = _wrapped_tail(lines, index)
            for kind, score in _line_scores(line, page, body, wrapped):
                scores[kind] += score
    if names_subcontractor and _BARE_REQUEST_RE.search(" ".join(heads)):
        # « DEMANDE DE PAIEMENT » alone heads a subcontractor's request when the piece
        # names its subcontractor: it is the form the paiement direct uses.
        scores[K.DEMANDE_PAIEMENT_SOUS_TRAITANT] += _BARE_REQUEST_SCORE
    if not any(score > 0 for score in scores.values()):
        if any(page.words for page in pages):
            # Text but no title: most untitled deposits are invoices, and we are guessing.
            return KindGuess(value=DocumentKind.INVOICE, confidence=0.25)
        return KindGuess()
    if accepted and max(scores, key=scores.__getitem__) is K.DECOMPTE_GENERAL:
        # The title names the décompte général; the body says it has been accepted.
        scores[K.DECOMPTE_GENERAL_DEFINITIF] += scores.pop(K.DECOMPTE_GENERAL)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    kind, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    share = top / (top + second)
    evidence = 1 - math.exp(-top / (_FULL_EVIDENCE / 2))
    return KindGuess(value=kind, confidence=round(min(0.99, share * evidence), 3))


def _states_acceptance(text: str) -> bool:
    """The text says the titulaire has accepted the piece, not that it will be."""
    return any(not _NOT_YET_RE.search(text[: m.start()]) for m in _ACCEPTED_RE.finditer(text))


#: A line ending like an unfinished title: only those can go on below.
_OPEN_TITLE_RE = re.compile(
    r"(?:decompte|acompte|paiement|direct|projet|demande|etat|general|facture|de|du|et|&)\s*$"
)


def _wrapped_tail(lines: Sequence[Line], index: int) -> str:
    """The words of a title wrapped onto the next lines ("PROJET DE DÉCOMPTE" / "GÉNÉRAL",
    "DÉCOMPTE" / "GÉNÉRAL" / "ET DÉFINITIF"): each next line's cell right under the last
    cell, printed as big and close, while the title reads as unfinished."""
    line = lines[index]
    if not line.segments:
        return ""
    text, tail = line.folded, []
    x0, _, x1, _ = line.box(*line.segments[-1])
    for nxt in lines[index + 1 : index + 3]:
        if not _OPEN_TITLE_RE.search(text):
            break
        close = nxt.top - line.bottom < 0.8 * line.height
        cell = next(
            ((s, e) for s, e in nxt.segments if nxt.box(s, e)[2] > x0 and nxt.box(s, e)[0] < x1),
            None,
        )
        if not close or nxt.height < 0.6 * line.height or cell is None:
            break
        text = nxt.folded[cell[0] : cell[1]]
        tail.append(text)
        line = nxt
    return " ".join(tail)


def _letters_joined(line: Line) -> str | None:
    """A title set in spaced-out capitals ("D É C O M P T E   G É N É R A L"), its letters
    read as words: the letters joined back, the wider gaps kept as word spaces."""
    words = line.words
    if len(words) < 6 or sum(len(w.text) == 1 for w in words) < 0.6 * len(words):
        return None
    gaps = [b.x0 - a.x1 for a, b in itertools.pairwise(words)]
    letter_gap = statistics.median(gaps)
    text = words[0].text
    for gap, word in zip(gaps, words[1:], strict=True):
        text += (" " if gap > 1.8 * max(letter_gap, 0.1) else "") + word.text
    return fold_text(text)


def _line_scores(
    line: Line, page: Page, body: float, wrapped: str = ""
) -> list[tuple[DocumentKind, float]]:
    joined = _letters_joined(line)
    own = joined or line.folded
    text = f"{own} {wrapped}" if wrapped else own
    found: list[tuple[int, int, _Title]] = []
    for title in TITLES:
        for match in title.pattern.finditer(text):
            # A wording that only starts on the next line is that line's.
            if match.start() < len(own):
                found.append((match.start(), min(match.end(), len(own)), title))
    # The most specific wording of overlapping ones (longest, then heaviest) wins.
    found.sort(key=lambda item: (-(item[1] - item[0]), -item[2].weight))
    kept: list[tuple[int, int, _Title]] = []
    for start, end, title in found:
        if all(end <= s or start >= e for s, e, _ in kept):
            kept.append((start, end, title))
    scores = []
    for start, end, title in kept:
        # Joined letters are no longer the line's words: the whole line is the title.
        words = (
            list(line.words) if joined else [line.words[i] for i in line.word_indexes(start, end)]
        )
        size = statistics.mean(w.height for w in words) / (body or 1.0)
        size_factor = max(0.7, min(3.0, size))
        position = _position_factor(line, page)
        # A wording that is most of its line ("FACTURE", "PROJET DE DÉCOMPTE MENSUEL
        # N° 7") is a title; inside a sentence it is a mention.
        covered = (end - start) / max(1, len(own.strip()))
        title_factor = 1.5 if covered >= 0.4 else 1.0
        confidence = statistics.mean(w.confidence for w in words)
        scores.append(
            (title.kind, title.weight * size_factor * position * title_factor * confidence)
        )
    return scores


def _position_factor(line: Line, page: Page) -> float:
    if page.number != 1:
        return _OTHER_PAGES
    if line.bottom <= page.height / 3:
        return _TOP_OF_FIRST_PAGE
    return _REST_OF_FIRST_PAGE
