"""French field finders: pre-fill the canonical fields from the words of a piece.

Words are grouped into lines (``pdf_text.group_lines``); labels are found in the folded
(lower-case, accent-free) line text with several wordings per field; a value is taken to
the right of its label on the same line (up to the next label), or below it (a label
above its value, a table header above its column, a two-column block). Every candidate is
scored:

    confidence = label specificity x position x value quality x reader confidence x context

and the checks that hold move it: SIRET/IBAN/VAT checksums, HT + TVA = TTC among the
amount candidates, the VAT number carrying the supplier's SIREN. Candidates that agree
add up a little; a close competitor with another value takes confidence away. A field
whose best candidate ends under ``MIN_CONFIDENCE`` stays null: a wrong value that looks
certain costs more than an empty one.

Values are normalised as DESIGN 4.1 says: ISO dates, amounts with two decimals and a dot
(positive: credit notes carry positive amounts), identifiers without spaces, EUR.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from pydantic import Field
from stdnum import iban as stdnum_iban
from stdnum.fr import siret as stdnum_siret
from stdnum.fr import tva as stdnum_tva

from pipeline.extract.pdf_text import Line, Page, fold_text, group_lines, original_bbox
from pipeline.models import (
    AMOUNT_FIELDS,
    DocumentKind,
    ExtractedField,
    FieldSource,
    Finding,
    Frozen,
    PieceFields,
    Severity,
)

#: Under this the field is left null.
MIN_CONFIDENCE = 0.3
#: Confidence is capped: text read from a page is never certain.
MAX_CONFIDENCE = 0.99


class FieldReading(Frozen):
    """What the field finders read on the visible pages."""

    fields: PieceFields = Field(description="Every canonical field, null when not found.")
    findings: tuple[Finding, ...] = Field(
        default=(), description="Doubts met while reading (ambiguities, amounts that differ)."
    )


# =========================================================================== parsers

_MONTHS = {
    "janvier": 1,
    "janv": 1,
    "fevrier": 2,
    "fevr": 2,
    "fev": 2,
    "mars": 3,
    "avril": 4,
    "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "aout": 8,
    "septembre": 9,
    "sept": 9,
    "sep": 9,
    "octobre": 10,
    "oct": 10,
    "novembre": 11,
    "nov": 11,
    "decembre": 12,
    "dec": 12,
}

# Amounts as French documents print them: 7 850,00 / 7.850,00 / 7850.00 / -1 200,00 €.
# Spaces inside the number come from U+00A0, U+202F or pdfplumber splitting the words
# (the line text joins close words with one space, distant ones with a tab).
_AMOUNT_RE = re.compile(
    r"(?<![\w.,/-])"
    r"(?P<sign>-\s?)?"
    r"(?P<int>\d{1,3}(?:[ .]\d{3})+|\d+)"
    r"(?:,(?P<dec>\d{2})|\.(?P<dot>\d{2}))?"
    r"(?![\d]|[.,/]\d)"  # not the start of a date or of a longer number
    r"(?!\s?%)"  # a rate, not an amount
    r"(?P<cur>\s?(?:€|eur\b|euros?\b))?"
)

_NUMERIC_DATE_RE = re.compile(
    r"(?<![\d/.-])(?P<d>\d{1,2})\s?(?P<sep>[/.-])\s?(?P<m>\d{1,2})\s?(?P=sep)\s?"
    r"(?P<y>\d{4}|\d{2})(?![\d])"
)
_WRITTEN_DATE_RE = re.compile(
    r"(?<!\w)(?P<d>1er|\d{1,2})\s+(?P<m>"
    + "|".join(sorted(_MONTHS, key=len, reverse=True))
    + r")\.?\s+(?P<y>\d{4})(?!\d)"
)


def parse_amount(text: str) -> Decimal | None:
    """The amount printed in ``text`` (the whole text must be one amount), signed."""
    folded = fold_text(text).strip()
    match = _AMOUNT_RE.fullmatch(folded)
    if not match or not (match["dec"] or match["dot"] or match["cur"]):
        return None
    return _amount_value(match)


def _amount_value(match: re.Match[str]) -> Decimal | None:
    integer = re.sub(r"[ .]", "", match["int"])
    decimals = match["dec"] or match["dot"] or "00"
    try:
        value = Decimal(f"{integer}.{decimals}")
    except InvalidOperation:
        return None
    return -value if match["sign"] else value


def format_amount(value: Decimal) -> str:
    """DESIGN 4.1: two decimals, a dot, no sign (credit notes carry positive amounts)."""
    return f"{abs(value).quantize(Decimal('0.01')):f}"


def parse_date(text: str) -> date | None:
    """The date printed in ``text`` (dd/mm/yyyy, dd.mm.yy, ``1er avril 2024`` …)."""
    folded = fold_text(text).strip()
    for regex in (_NUMERIC_DATE_RE, _WRITTEN_DATE_RE):
        match = regex.fullmatch(folded)
        if match:
            return _date_value(match)
    return None


def _date_value(match: re.Match[str]) -> date | None:
    day_text, month_text, year_text = match["d"], match["m"], match["y"]
    day = 1 if day_text == "1er" else int(day_text)
    month = _MONTHS[month_text] if month_text in _MONTHS else int(month_text)
    year = int(year_text)
    if year < 100:
        year += 2000
    if not 1990 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def is_valid_siret(number: str) -> bool:
    # stdnum's Luhn passes an all-zero SIREN, which no establishment has.
    return (
        len(number) == 14
        and number.isdigit()
        and number[:9] != "0" * 9
        and bool(stdnum_siret.is_valid(number))
    )


# =========================================================================== values


@dataclass(frozen=True)
class Value:
    """A value found in a line: normalised text, folded span, how well it looks the part."""

    text: str
    start: int
    end: int
    quality: float
    checked: bool = False  # a checksum holds: an OCR misreading would rarely pass it


ValueFinder = Callable[[Line, int, int], list[Value]]


def find_amounts(line: Line, start: int, end: int) -> list[Value]:
    values = []
    for match in _AMOUNT_RE.finditer(line.folded, start, end):
        has_decimals = bool(match["dec"] or match["dot"])
        if not has_decimals and not match["cur"]:
            continue  # a quantity, a postcode, a phone group: not an amount
        amount = _amount_value(match)
        if amount is None:
            continue
        quality = 1.0 if has_decimals else 0.7
        values.append(
            Value(
                format_amount(amount),
                match.start("sign") if match["sign"] else match.start("int"),
                match.end(),
                quality,
            )
        )
    return values


def find_dates(line: Line, start: int, end: int) -> list[Value]:
    values = []
    for regex in (_NUMERIC_DATE_RE, _WRITTEN_DATE_RE):
        for match in regex.finditer(line.folded, start, end):
            parsed = _date_value(match)
            if parsed is not None:
                quality = 1.0 if len(match["y"]) == 4 else 0.85
                values.append(Value(parsed.isoformat(), match.start(), match.end(), quality))
    return sorted(values, key=lambda v: v.start)


# Runs of digits separated by single spaces or dots: a SIRET is 14 digits aligned on the
# groups of one run ("552 462 814 00013"), never part of a longer group.
_DIGIT_RUN_RE = re.compile(r"(?<![\w])\d+(?:[ .]\d+)*(?![\w])")


_OCR_DIGITS = str.maketrans("oil|", "0111")


def _ocr_digits(line: Line) -> str:
    """The folded text with OCR's letter-for-digit misreadings fixed inside runs of digit
    groups ("110 002 OIL 00044"): same length, so spans stay valid. Text layers do not
    misread: they are left as they are."""
    if line.page.source is not FieldSource.OCR:
        return line.folded
    tokens = list(re.finditer(r"\S+", line.folded))
    text = list(line.folded)
    for i, token in enumerate(tokens):
        word = token.group()
        if word.isdigit() or not re.fullmatch(r"[0-9oil|]{1,5}", word):
            continue
        neighbours = tokens[max(0, i - 1) : i] + tokens[i + 1 : i + 2]
        if any(n.group().isdigit() for n in neighbours):
            text[token.start() : token.end()] = word.translate(_OCR_DIGITS)
    return "".join(text)


def find_sirets(line: Line, start: int, end: int) -> list[Value]:
    values = []
    for run in _DIGIT_RUN_RE.finditer(_ocr_digits(line), start, end):
        groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run.group())]
        offset = run.start()
        for i in range(len(groups)):
            digits = ""
            for j in range(i, len(groups)):
                digits += run.group()[groups[j][0] : groups[j][1]]
                if len(digits) > 14:
                    break
                if len(digits) == 14:
                    values.append(
                        Value(
                            digits,
                            offset + groups[i][0],
                            offset + groups[j][1],
                            1.0 if is_valid_siret(digits) else 0.5,
                            checked=is_valid_siret(digits),
                        )
                    )
                    break
    return values


_VAT_RE = re.compile(r"(?<![a-z0-9])fr(?:[ .]?[0-9a-hj-np-z]){2}(?:[ .]?\d){9}(?!\d)")


def find_vat_ids(line: Line, start: int, end: int) -> list[Value]:
    values = []
    for match in _VAT_RE.finditer(line.folded, start, end):
        number = re.sub(r"[ .]", "", match.group()).upper()
        valid = bool(stdnum_tva.is_valid(number))
        values.append(
            Value(number, match.start(), match.end(), 1.0 if valid else 0.4, checked=valid)
        )
    return values


_IBAN_START_RE = re.compile(r"(?<![a-z0-9])[a-z]{2}\d{2}(?=[ ]?[a-z0-9])")


def find_ibans(line: Line, start: int, end: int) -> list[Value]:
    """IBANs checked with their checksum; the longest valid prefix of the run wins (the
    run may go on into a BIC or a bank name)."""
    values = []
    for match in _IBAN_START_RE.finditer(line.folded, start, end):
        chars = match.group()
        position = match.end()
        best: Value | None = None
        while position < end and len(chars) < 34:
            step = re.match(r"[ ]?([a-z0-9]+)", line.folded[position:end])
            if not step:
                break
            chars += step.group(1)
            position += step.end()
            candidate = chars.upper()
            if len(candidate) <= 34 and stdnum_iban.is_valid(candidate):
                best = Value(candidate, match.start(), position, 1.0, checked=True)
        if best:
            values.append(best)
    return values


_ID_LEAD_RE = re.compile(
    r"[\s:.#°*=/-]*(?:(?:n\s?[°o*]|no|num(?:ero)?)\.?(?=[\s:.\d])[\s:.#-]*)?"
    # OCR reads a colon as "à", "i", "|" or ";": one such stray letter is skipped.
    r"(?:[ai|;!](?=\s+[a-z]{0,4}[-/]?\d))?\s*"
)
_ID_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9/_.\-]*")
_ID_STOPWORDS = {
    "du",
    "le",
    "la",
    "les",
    "de",
    "des",
    "en",
    "au",
    "et",
    "date",
    "page",
    "pour",
    "sur",
    "par",
}


def _identifier_finder(*, need_digit: bool, min_length: int = 2) -> ValueFinder:
    def find(line: Line, start: int, end: int) -> list[Value]:
        lead = _ID_LEAD_RE.match(line.folded, start, end)
        at = lead.end() if lead else start
        token = _ID_TOKEN_RE.match(line.folded, at, end)
        if not token:
            return []
        token_end = token.end()
        # OCR and some layouts split "F-2024-" "0153": join across one space after a dash.
        while line.folded[token_end - 1] in "-/" and line.folded.startswith(" ", token_end):
            more = _ID_TOKEN_RE.match(line.folded, token_end + 1, end)
            if not more:
                break
            token_end = more.end()
        while line.folded[token_end - 1] in ".-/":
            token_end -= 1  # "F-2024-0153." ends a sentence
        folded = line.folded[token.start() : token_end].replace(" ", "")
        text = line.original(token.start(), token_end).replace(" ", "")
        if folded in _ID_STOPWORDS or len(text) < min_length:
            return []
        has_digit = any(c.isdigit() for c in text)
        if need_digit and not has_digit:
            return []
        if parse_date(text) is not None or re.fullmatch(r"\d+[.,]\d{2}", text):
            return []  # a date or an amount, not a reference
        quality = 1.0
        if text.isdigit() and len(text) <= 3:
            quality = 0.35  # an ordinal (Situation n° 7), rarely a piece number
        elif not has_digit and not text.isupper():
            quality = 0.4  # a plain word: probably a service name, not a code
        return [Value(text, token.start(), token_end, quality)]

    return find


find_reference = _identifier_finder(need_digit=True)
find_service_code = _identifier_finder(need_digit=False)


# =========================================================================== labels


@dataclass(frozen=True)
class Label:
    """A wording that announces a field (or a distractor, ``field=None``)."""

    field: str | None
    pattern: re.Pattern[str]
    weight: float
    not_before: re.Pattern[str] | None = None
    not_after: re.Pattern[str] | None = None
    need_before: re.Pattern[str] | None = None
    #: A generic wording ("Numéro") that is specific right under the piece's title.
    under_title: bool = False


def _label(
    field: str | None,
    pattern: str,
    weight: float = 0.0,
    *,
    not_before: str | None = None,
    not_after: str | None = None,
    need_before: str | None = None,
    under_title: bool = False,
) -> Label:
    return Label(
        field=field,
        pattern=re.compile(pattern),
        weight=weight,
        not_before=re.compile(not_before + r"\W*$") if not_before else None,
        not_after=re.compile(r"^\W*(?:" + not_after + ")") if not_after else None,
        need_before=re.compile(need_before + r"\s*$") if need_before else None,
        under_title=under_title,
    )


_N = r"(?:n\s?[°o*]\.?|num(?:ero|\.)?|no\.)"  # n°, N°, No., numéro, num.
_HT = r"h\.?\s?t\.?(?![a-z])"
_TTC = r"t\.?\s?[ti]\.?\s?c\.?(?![a-z])"  # OCR reads TTC as TIC
_TVA = r"t\.?\s?v\.?\s?a\.?(?![a-z])"
_NOT_AN_INVOICE_REF = (
    r"client|commande|marche|dossier|article|produit|devis|acheteur|bancaire|interne|"
    r"projet|chantier|engagement|ej\b|contrat|affaire|lot\b|de\s+(?:la\s+)?commande"
)

LABELS: tuple[Label, ...] = (
    # ---- invoice number (the piece's own reference)
    _label("invoice_number", r"\bnum(?:ero|\.)?\s+(?:de\s+(?:la\s+)?)?facture\b", 0.95),
    _label("invoice_number", rf"\b{_N}\s*(?:de\s+(?:la\s+)?)?facture\b", 0.95),
    _label(
        "invoice_number",
        rf"\bfacture\s+(?:d'avoir\s+)?{_N}",
        0.95,
        not_before=r"(?:sur|de\s+la|origine|la)",
    ),
    _label("invoice_number", rf"\bavoir\s+{_N}", 0.95),
    _label("invoice_number", rf"\b{_N}\s*(?:de\s+l'|d')?avoir\b", 0.95),
    # A bare "Numéro" / "N°" heading its own cell (a header above the value), or opening
    # a header line ("N° : F-001" under the title).
    _label(
        "invoice_number",
        r"(?:^|\t)\s*(?:numero|n\s?[°o])\.?\s*:?\s*(?=\t|$)",
        0.6,
        under_title=True,
    ),
    _label("invoice_number", r"(?:^|\t)\s*(?:numero|n\s?[°o])\.?\s*:", 0.5, under_title=True),
    _label(
        "invoice_number",
        rf"\bprojet\s+de\s+decompte(?:\s+(?:mensuel|final|general))?\s+{_N}",
        0.85,
    ),
    _label(
        "invoice_number",
        rf"\bdecompte(?:\s+(?:mensuel|final|general(?:\s+(?:et\s+)?definitif)?))?\s+{_N}",
        0.85,
    ),
    _label("invoice_number", rf"\betat\s+d'acompte(?:\s+(?:mensuel\s+)?valide)?\s+{_N}", 0.7),
    _label("invoice_number", rf"\b(?:{_N}\s*(?:de\s+)?piece|piece\s+{_N})", 0.85),
    _label(
        "invoice_number",
        r"\bref(?:erence)?\b\.?\s+(?:de\s+la\s+)?(?:facture|piece|document|avoir)\b",
        0.85,
        not_before=r"(?:vos|votre|v/)",
    ),
    # A bare "Réf." opens its cell; after another word it is that word's reference.
    _label(
        "invoice_number",
        r"(?:^|\t)\s*(?:n/\s*|notre\s+)?ref(?:erence)?\b\.?",
        0.6,
        not_after=_NOT_AN_INVOICE_REF,
    ),
    _label(
        "invoice_number",
        r"(?:^|\t)\s*(?:facture|avoir)\b(?= +[a-z]{0,4}[-/]?\d)",
        0.7,
    ),
    _label(
        "invoice_number",
        r"\b(?:facture|avoir)\b(?= +[a-z]{0,4}[-/]?\d)",
        0.45,
        not_before=r"(?:sur|origine|la|total|montant|sous-total)",
    ),
    # ---- issue date
    _label(
        "issue_date",
        r"\bdate\s+(?:de\s+(?:la\s+)?)?(?:facture|facturation|piece|d'avoir|de\s+l'avoir)\b",
        0.95,
        not_after=r"associee|d'origine|initiale",
    ),
    _label("issue_date", r"\bdate\s+d'(?:emission|etablissement|edition)\b", 0.95),
    _label("issue_date", r"\b(?:emise?|etablie?|editee?|faite?)\s+le\b", 0.85),
    _label("issue_date", r"(?:^|,|\t)\s*le\b(?=\s+(?:1er|\d))", 0.8),
    _label(
        "issue_date",
        r"\bdu\b(?=\s+(?:1er|\d))",
        0.85,
        need_before=rf"\b(?:facture|avoir)\s+(?:{_N})?\s*[a-z0-9][\w/.-]*",
    ),
    _label(
        "issue_date",
        r"\bdate\b",
        0.75,
        not_before=r"(?:echeance|livraison|limite|paiement|reglement|commande)",
        not_after=(
            r"(?:de\s+|d'|du\s+|des\s+)?(?:la\s+|l')?(?:livraison|echeance|limite|paiement|"
            r"reception|commande|debut|fin|notification|valeur|reglement|prestation|"
            r"execution|expiration|visite|intervention|mise|ordre|signature|facture\s+"
            r"(?:associee|d'origine)|naissance|effet|acceptation|travaux)"
        ),
    ),
    # ---- amounts
    _label("total_excl_tax", rf"\btotal\s+(?:general\s+)?(?:net\s+)?{_HT}", 0.95),
    _label("total_excl_tax", r"\btotal\s+(?:net\s+)?hors\s+taxes?\b", 0.95),
    _label(
        "total_excl_tax",
        rf"\bmontant\s+(?:total\s+)?(?:net\s+)?(?:eur\s+|€\s+|en\s+euros\s+)?{_HT}"
        r"(?:\s+(?:de\s+l'|du\s+present\s+|de\s+cet\s+)acompte)?",
        0.85,
    ),
    _label("total_excl_tax", r"\bmontant\s+(?:total\s+)?hors\s+taxes?\b", 0.85),
    _label("total_excl_tax", rf"\bbase\s+(?:{_HT}|hors\s+taxes?)", 0.8),
    _label("total_excl_tax", rf"\bsous[- ]total\s+{_HT}", 0.6),
    _label(
        "total_excl_tax",
        rf"\bmontant\s+(?:de\s+l'|du\s+present\s+|de\s+cet\s+)acompte\s+{_HT}",
        0.9,
    ),
    _label(
        "total_excl_tax",
        r"\b(?:montant\s+des\s+)?travaux\s+(?:executes\s+)?(?:du|ce)\s+mois\b",
        0.55,
    ),
    _label("total_tax", rf"\b(?:total|montant)\s+(?:de\s+la\s+)?{_TVA}", 0.95),
    # "TVA 20 %", "TVA (5,5 %)", "TVA à 10 %": a VAT line of the totals.
    _label(
        "total_tax",
        rf"\b{_TVA}\s*(?:a\s+)?\(?\s*\d{{1,2}}(?:[,.]\d{{1,2}})?\s*%\s*\)?",
        0.9,
        not_before=r"(?:taux(?:\s+de)?|base|hors)",
    ),
    _label(
        "total_tax",
        r"\b(?:total\s+(?:des\s+)?)?taxes\b",
        0.8,
        not_before=r"(?:toutes|hors|sans)",
        not_after=r"comprises|incluses",
    ),
    _label(
        "total_tax",
        rf"\b{_TVA}",
        0.8,
        not_before=r"(?:n\s?[°o*]\.?|numero|identifiant|code|taux(?:\s+de)?|regime(?:\s+de)?|"
        r"assujetti\s+a\s+la|hors|base|soumis\s+a\s+la|sans)",
        not_after=r"intra|n\s?[°o*]|non\s+applicable|sur\s+les|acquittee|autoliquid|fr\s?\d|"
        r"due\s+par|incluse|comprise|\(?\s*taux\s*\)?\s*$",
    ),
    _label(
        "total_incl_tax",
        rf"\b(?:total|montant)\s+(?:general\s+)?(?:net\s+)?"
        rf"(?:eur\s+|€\s+)?{_TTC}",
        0.95,
    ),
    _label("total_incl_tax", r"\b(?:total|montant)\s+toutes\s+taxes\s+comprises\b", 0.95),
    _label(
        "total_incl_tax",
        rf"\bmontant\s+(?:de\s+l'|du\s+present\s+|de\s+cet\s+)acompte\s+{_TTC}",
        0.9,
    ),
    _label("amount_due", r"\bnet\s+a\s+(?:payer|regler)\b", 0.95),
    _label("amount_due", r"\bnet\s+a\s+mandater\b", 0.95),
    _label("amount_due", r"\breste\s+a\s+(?:payer|regler)\b", 0.9),
    _label("amount_due", r"\bmontant\s+(?:net\s+)?a\s+(?:payer|regler|mandater)\b", 0.9),
    _label("amount_due", r"\b(?:somme|total|solde)\s+a\s+(?:payer|regler)\b", 0.85),
    _label("amount_due", r"\bacompte\s+a\s+(?:payer|regler|mandater)\b", 0.8),
    _label(
        "amount_due",
        r"\bmontant\s+(?:net\s+)?(?:de\s+l'|du\s+present\s+|de\s+cet\s+)acompte\b",
        0.7,
        not_after=rf"{_HT}|{_TTC}|{_TVA}",
    ),
    # ---- parties and references
    _label("siret", rf"\b(?:{_N}\s*)?siret\b", 0.95),
    _label(
        "vat",
        r"\b(?:(?:n\s?[°o*]\.?|numero|identifiant|id\.?|code)\s*(?:de\s+)?)?"
        r"(?:tva|t\.v\.a\.)\s*(?:intra[- ]?(?:communautaire|com\.?)?)",
        0.95,
    ),
    _label(
        "vat",
        r"\b(?:n\s?[°o*]\.?|numero|identifiant)\s*(?:de\s+|d')?(?:tva|identification)"
        r"\b",
        0.9,
    ),
    _label("vat", r"\bvat(?:\s+(?:number|id|no\.?))?\b", 0.8),
    _label("vat", r"\btva\b(?=\s*:?\s*fr\s?[0-9a-z]{2}\s?\d)", 0.85),
    _label("service_code", r"\bcode\s+(?:du\s+)?service(?:\s+executant)?\b", 0.9),
    _label("service_code", r"\bservice\s+executant\b", 0.85),
    _label("service_code", r"\bservice\s+destinataire\b", 0.85),
    _label("service_code", r"\bcode\s+routage\b|\bcode_routage\b", 0.8),
    _label(
        "engagement_number",
        rf"\b(?:{_N}\s*(?:d'|de\s+l')?)?engagement(?:\s+juridique)?\b",
        0.92,
    ),
    _label("engagement_number", rf"\b(?:{_N}\s*)?ej\b", 0.92),
    _label("engagement_number", rf"\bbon\s+de\s+commande\b(?:\s*{_N})?", 0.75),
    _label("engagement_number", rf"\b{_N}\s*(?:de\s+|du\s+)?(?:bon\s+de\s+)?commande\b", 0.75),
    _label("engagement_number", rf"\bcommande\s+{_N}", 0.75),
    _label("engagement_number", r"\b(?:votre|vos)\s+(?:commande|ref(?:erence)?s?\b\.?)", 0.4),
    _label("contract_number", rf"\bmarche\s+(?:public\s+)?{_N}", 0.9),
    _label("contract_number", rf"\b{_N}\s*(?:de\s+|du\s+)?marche\b", 0.9),
    _label("contract_number", r"\bref(?:erence)?\.?\s+(?:du\s+)?marche\b", 0.85),
    _label("contract_number", rf"\b(?:contrat\s+{_N}|{_N}\s*(?:de\s+|du\s+)?contrat)", 0.8),
    _label("contract_number", r"\bmarche\s*:", 0.7),
    _label("contract_number", r"(?:^|\t)\s*marche\s*(?=\t|$)", 0.7),
    _label("iban", r"\biban\b", 0.95),
    # ---- distractors: labels of other numbers, so no value is taken across them
    _label(None, rf"\b(?:acompte|situation|devis|lot|tranche|dossier|affaire|client)\s+{_N}"),
    _label(
        None,
        rf"\b{_N}\s*(?:de\s+|du\s+)?(?:devis|client|dossier|lot|affaire|"
        rf"situation|acompte|compte|ligne|chantier)\b",
    ),
    _label(None, rf"\bbon\s+de\s+livraison\b(?:\s*{_N})?"),
    _label(
        None,
        r"\bfacture\s+(?:d'origine|initiale|associee|rectifiee|annulee|liee|precedente)\b"
        rf"(?:\s*{_N})?",
    ),
    _label(None, rf"\bavoir\s+sur\s+(?:la\s+)?facture\b(?:\s*{_N})?"),
    _label(None, r"\b(?:date\s+(?:d'|de\s+)?)?echeance\b|\bdate\s+limite\b"),
    _label(None, r"\bdate\s+de\s+(?:livraison|commande|debut|fin|reception)\b"),
    _label(None, r"\b(?:periode|du)\b(?=\s+\d{1,2}\s?[/.-]\d{1,2}[/.-]\d{2,4}\s+au\b)"),
    _label(
        None,
        r"\b(?:siren|rcs|r\.c\.s\.|capital|ape|naf|tel|tel\.|telephone|fax|"
        r"portable|mobile|bic|swift|cedex)\b",
    ),
    _label(None, r"\btaux\b|\bquantite\b|\bqte\b|\bp\.?u\.?\b|\bprix\s+unitaire\b"),
    _label(None, r"\bcumul\w*\b|\bprecedent\w*\b|\banterieur\w*\b"),
    _label(None, r"\bretenue\s+de\s+garantie\b|\bavance\b|\brevision\s+des\s+prix\b"),
)


@dataclass(frozen=True)
class Hit:
    """A label found on a line (folded span)."""

    label: Label
    line: int  # index in Doc.lines
    start: int
    end: int

    @property
    def field(self) -> str | None:
        return self.label.field


# =========================================================================== document


@dataclass(frozen=True)
class Doc:
    """The lines of all pages and the labels found on them."""

    lines: tuple[Line, ...]
    hits: tuple[tuple[Hit, ...], ...]  # per line, sorted by start

    def page_lines(self, index: int) -> range:
        """Indexes of the lines of the page of line ``index``."""
        page = self.lines[index].page.number
        first = index
        while first > 0 and self.lines[first - 1].page.number == page:
            first -= 1
        last = index
        while last + 1 < len(self.lines) and self.lines[last + 1].page.number == page:
            last += 1
        return range(first, last + 1)


def build_doc(pages: Sequence[Page]) -> Doc:
    lines = tuple(
        line for page in sorted(pages, key=lambda p: p.number) for line in group_lines(page)
    )
    return Doc(lines=lines, hits=tuple(_line_hits(line, i) for i, line in enumerate(lines)))


def _line_hits(line: Line, index: int) -> tuple[Hit, ...]:
    found: list[Hit] = []
    for label in LABELS:
        for match in label.pattern.finditer(line.folded):
            if match.end() == match.start():
                continue
            before = line.folded[max(0, match.start() - 40) : match.start()]
            after = line.folded[match.end() : match.end() + 40]
            if label.not_before and label.not_before.search(before):
                continue
            if label.not_after and label.not_after.search(after):
                continue
            if label.need_before and not label.need_before.search(before):
                continue
            found.append(Hit(label, index, match.start(), match.end()))
    # Overlapping wordings: the longer one is the more specific ("état d'acompte n°" over
    # "acompte n°", "total HT" over "HT"); at equal length, a field label over a distractor.
    found.sort(key=lambda h: (-(h.end - h.start), h.field is None, -h.label.weight))
    kept: list[Hit] = []
    for hit in found:
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    return tuple(sorted(kept, key=lambda h: h.start))


# =========================================================================== candidates


@dataclass(frozen=True)
class Candidate:
    field: str
    value: str
    confidence: float
    line: int
    start: int
    end: int


_VALUE_FINDERS: dict[str, ValueFinder] = {
    "invoice_number": find_reference,
    "issue_date": find_dates,
    "total_excl_tax": find_amounts,
    "total_tax": find_amounts,
    "total_incl_tax": find_amounts,
    "amount_due": find_amounts,
    "siret": find_sirets,
    "vat": find_vat_ids,
    "service_code": find_service_code,
    "engagement_number": find_reference,
    "contract_number": find_reference,
    "iban": find_ibans,
}

#: Identifiers sit right after their label; amounts and dates may be further on the line.
_FIRST_VALUE_ONLY = {"invoice_number", "service_code", "engagement_number", "contract_number"}


def labelled_candidates(doc: Doc) -> list[Candidate]:
    """Every value found for a label: on its line, else under it."""
    candidates: list[Candidate] = []
    for line_hits in doc.hits:
        for hit in line_hits:
            if hit.field is None:
                continue
            finder = _VALUE_FINDERS[hit.field]
            same_line = list(_same_line(doc, hit, finder))
            candidates.extend(same_line)
            if not same_line:
                candidates.extend(_below(doc, hit, finder))
    return candidates


def _region_end(doc: Doc, hit: Hit) -> int:
    """Where the value of ``hit`` may end: at the next label on the line."""
    for other in doc.hits[hit.line]:
        if other.start >= hit.end:
            return other.start
    return len(doc.lines[hit.line].folded)


def _same_line(doc: Doc, hit: Hit, finder: ValueFinder) -> Iterable[Candidate]:
    line = doc.lines[hit.line]
    end = _region_end(doc, hit)
    values = finder(line, hit.end, end)
    if hit.field in _FIRST_VALUE_ONLY:
        values = values[:1]
    for rank, value in enumerate(values[:3]):
        position = (1.0, 0.8, 0.65)[rank]
        yield _candidate(doc, hit, value, hit.line, position)


def _below(doc: Doc, hit: Hit, finder: ValueFinder) -> Iterable[Candidate]:
    """Values under the label: a label above its value, a header above its column."""
    label_line = doc.lines[hit.line]
    lx0, _, lx1, _ = label_line.box(hit.start, hit.end)
    is_amount = hit.field in AMOUNT_FIELDS
    bottom = label_line.bottom
    rows_seen = 0
    found = 0
    for index in doc.page_lines(hit.line):
        if index <= hit.line:
            continue
        line = doc.lines[index]
        gap = line.top - bottom
        if gap > 4 * max(line.height, label_line.height) and rows_seen == 0:
            return  # nothing right under the label
        if line.top - label_line.bottom > 400 or rows_seen >= 12:
            return
        rows_seen += 1
        bottom = line.bottom
        in_column = False
        for start, end in line.segments:
            sx0, _, sx1, _ = line.box(start, end)
            if sx1 < lx0 - 3 or sx0 > lx1 + 3:
                continue  # another column
            in_column = True
            if _row_labelled(doc, index, start, end):
                continue
            values = finder(line, start, end)[:1]
            for value in values:
                position = _below_position(rows_seen, is_amount, line)
                found += 1
                yield _candidate(doc, hit, value, index, position)
        # A label above its value: the first thing printed under it is the value, or
        # there is none ("—"); a header above a column of amounts reads on.
        if (found or in_column) and not is_amount:
            return
        if found >= 3:
            return


def _row_labelled(doc: Doc, index: int, start: int, end: int) -> bool:
    """A cell with its own label, or right of a label cell ("TVA 20 %" | "1 570,00"):
    its value belongs to that label, not to a header above."""
    line = doc.lines[index]
    hits = doc.hits[index]
    if any(h.start < end and h.end > start for h in hits):
        return True
    previous = [s for s in line.segments if s[1] < start]
    if not previous:
        return False
    p_start, p_end = previous[-1]
    inside = [h for h in hits if p_start <= h.start < p_end and h.field is not None]
    # Nothing after the label but punctuation or a rate ("TVA 20 %"): a label cell.
    rest = line.folded[max(h.end for h in inside) : p_end] if inside else "x"
    return re.fullmatch(r"[\s:.,%\d()]*", rest) is not None


def _below_position(rows: int, is_amount: bool, line: Line) -> float:
    if not is_amount:
        return 0.95 if rows == 1 else max(0.5, 0.8 - 0.05 * rows)
    # Under an amount column header most rows are items; a total row is what we want.
    if re.match(r"\s*total", line.folded):
        return 0.8
    return 0.55 if rows == 1 else 0.45


def reader_factor(confidence: float, *, checked: bool = False) -> float:
    """How much the reader's confidence (Tesseract's, 1.0 for a text layer) weighs.

    Tesseract's word confidence is a score, not a probability: digits it rates 0.5 are
    most often right. It lowers a candidate without erasing it, and barely when a
    checksum holds (a misread SIRET or IBAN passes its check about once in ten or less).
    """
    if checked:
        return 0.7 + 0.3 * confidence
    return 0.3 + 0.7 * confidence


def _candidate(doc: Doc, hit: Hit, value: Value, line_index: int, position: float) -> Candidate:
    line = doc.lines[line_index]
    reader = reader_factor(line.confidence(value.start, value.end), checked=value.checked)
    label_reader = doc.lines[hit.line].confidence(hit.start, hit.end)
    context = _context_factor(doc, hit.field or "", line_index, value) * _place_factor(
        doc, hit, line_index
    )
    confidence = (
        hit.label.weight * position * value.quality * reader * (0.5 + 0.5 * label_reader) * context
    )
    return Candidate(
        field=hit.field or "",
        value=value.text,
        confidence=min(MAX_CONFIDENCE, confidence),
        line=line_index,
        start=value.start,
        end=value.end,
    )


# Works pieces print the cumulative amounts beside the month's: the piece's amounts are
# the month's (DESIGN 4.1).
_CUMULATIVE_RE = re.compile(
    r"cumul|precedent|anterieur|deja\s+(?:paye|regle|mandate|verse)|total\s+des\s+acomptes|"
    r"montant\s+(?:initial\s+)?du\s+marche|marche\s+initial|a\s+ce\s+jour|depuis\s+l'origine"
)
_CURRENT_RE = re.compile(r"\bmois\b|present|periode|situation|\bacompte\b|a\s+payer|ce\s+jour\b")


_TITLE_CELL_RE = re.compile(
    r"^\s*(?:facture(?:\s+d'avoir)?|avoir|note\s+de\s+credit|(?:projet\s+de\s+)?decompte\b.*|"
    r"etat\s+d'acompte.*)\s*$"
)
#: The piece's own number and date are printed in its header, not in its body.
_HEADER_FIELDS = {"invoice_number", "issue_date"}


def _place_factor(doc: Doc, hit: Hit, line_index: int) -> float:
    """Where the label sits: the header of page 1 for the piece's number and date, right
    under the piece's title for a bare "Numéro"."""
    factor = 1.0
    line = doc.lines[line_index]
    if hit.field in _HEADER_FIELDS:
        header = line.page.number == 1 and line.top < 0.45 * line.page.height
        factor *= 1.1 if header else 0.9
    if hit.label.under_title and _under_title(doc, hit):
        factor *= 1.45
    return factor


def _under_title(doc: Doc, hit: Hit) -> bool:
    """A title cell (FACTURE, AVOIR …) within the few lines above the label, in its column
    or starting where it starts."""
    label_line = doc.lines[hit.line]
    lx0, _, lx1, _ = label_line.box(hit.start, hit.end)
    for index in reversed(doc.page_lines(hit.line)):
        if index > hit.line or hit.line - index > 4:
            continue
        line = doc.lines[index]
        for s, e in line.segments:
            if index == hit.line and s >= hit.start:
                continue
            x0, _, x1, _ = line.box(s, e)
            aligned = abs(x0 - lx0) < 60 or (x1 > lx0 and x0 < lx1)
            if aligned and _TITLE_CELL_RE.match(line.folded[s:e]):
                return True
    return False


def _context_factor(doc: Doc, field: str, line_index: int, value: Value) -> float:
    if field not in AMOUNT_FIELDS:
        return 1.0
    line = doc.lines[line_index]
    factor = 1.0
    if _CUMULATIVE_RE.search(line.folded[: value.start]):
        factor *= 0.25
    header = _column_header(doc, line_index, value)
    if header:
        if _CUMULATIVE_RE.search(header):
            factor *= 0.25
        elif _CURRENT_RE.search(header):
            factor *= 1.1
    return factor


def _column_header(doc: Doc, line_index: int, value: Value) -> str:
    """The words printed above a value in its column (a table header), folded. A header
    cell may wrap over a few lines ("Cumul au" / "31/07/2024")."""
    line = doc.lines[line_index]
    vx0, _, vx1, _ = line.box(value.start, value.end)
    header: list[str] = []
    header_top = 0.0
    for index in reversed(doc.page_lines(line_index)):
        if index >= line_index or line_index - index > 15:
            continue
        above = doc.lines[index]
        if header and header_top - above.bottom > 1.5 * above.height:
            break
        words = [w.text for w in above.words if w.x1 > vx0 - 2 and w.x0 < vx1 + 2]
        if not words:
            continue  # a line of another column
        if all(re.fullmatch(r"[-\d\s.,€%]+", w) for w in words):
            if header:
                break
            continue  # a row of figures above ours: keep climbing to the header
        header.insert(0, " ".join(words))
        header_top = above.top
        if len(header) == 3:
            break
    return fold_text(" ".join(header))


# =========================================================================== parties

_ROLE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("moa", re.compile(r"\b(?:maitre|maitrise)\s+d'ouvrage\b|\bmoa\b|\bpouvoir\s+adjudicateur")),
    ("moe", re.compile(r"\b(?:maitre|maitrise)\s+d'oeuvre\b|\bmoe\b")),
    ("subcontractor", re.compile(r"\bsous[- ]?traitant")),
    (
        "recipient",
        re.compile(
            r"(?<!service )(?<!n° )(?<!code )(?<!ref )(?<!ref\. )\bclients?\b|\bdestinataire\b|"
            r"\bdest\b|\bfacture\s+a\b|\badresse\s+a\b|\ba\s+l'attention\b|\bacheteur\b|"
            r"\bacquereur\b|\bministere\b|\badresse\s+de\s+facturation\b|\bdonneur\s+d'ordre|"
            r"\bcommanditaire\b|\bvos\s+identifiants\b"
        ),
    ),
    (
        "supplier",
        re.compile(
            r"\bfournisseur\b|\bemetteur\b|\bvendeur\b|\bprestataire\b|\btitulaire\b|"
            r"\bentreprise\b|\bco-?traitant\b|\bmandataire\b|\bexpediteur\b|\bcreancier\b|"
            r"\bbeneficiaire\b"
        ),
    ),
)


@dataclass(frozen=True)
class RoleGuess:
    role: str
    strength: float
    by_position: bool = False  # no words said it: only where it is printed


def party_role(doc: Doc, line_index: int, start: int, end: int) -> RoleGuess:
    """Whose number is this: the role keyword nearest before it on its line, else the
    heading of its block (the lines above in its column), else where it sits."""
    line = doc.lines[line_index]
    seg_start, _ = line.segment_of(start)
    # The label may sit in the previous segment ("SIRET client :<tab>110 002 …").
    context_start = seg_start
    for s_start, s_end in line.segments:
        if s_end < seg_start:
            context_start = s_start
    role = _last_role(line.folded[context_start:start])
    if role:
        return RoleGuess(role, 1.0)
    cx0, cx1 = line.segment_x(start)
    vx0, _, vx1, _ = line.box(start, end)
    cx0, cx1 = min(cx0, vx0), max(cx1, vx1)
    previous_top = line.top
    lines_up = 0
    public_body = bool(_PUBLIC_BODY_RE.search(line.folded[context_start:start]))
    for index in reversed(doc.page_lines(line_index)):
        if index >= line_index:
            continue
        above = doc.lines[index]
        in_column = " ".join(
            above.folded[s:e] for s, e in above.segments if _overlaps(above.box(s, e), cx0, cx1)
        )
        if not in_column:
            continue  # a line of another column
        if previous_top - above.bottom > 3 * max(above.height, line.height) or lines_up >= 8:
            break
        lines_up += 1
        previous_top = above.top
        role = _last_role(in_column)
        if role:
            return RoleGuess(role, max(0.5, 0.95 - 0.06 * lines_up))
        public_body = public_body or bool(_PUBLIC_BODY_RE.search(in_column))
    # Where the block starts, not the number: a letterhead line centred on the page
    # prints its SIRET right of the middle.
    by_position = _role_by_position(line, line.segment_x(context_start)[0])
    if public_body:
        # No heading, but the block names a public body: in B2G the buyer; more so in
        # the addressee's place on the page.
        return RoleGuess("recipient", 0.75 if by_position.role == "recipient" else 0.6)
    return by_position


_PUBLIC_BODY_RE = re.compile(
    r"\b(?:commune|mairie|ville\s+de|departement|conseil\s+(?:departemental|regional)|region|"
    r"prefecture|centre\s+hospitalier|chu\b|universite|college|lycee|etat\b|ministere|"
    r"direction\s+(?:generale|regionale|departementale)|office\s+public|syndicat\s+mixte|"
    r"communaute\s+(?:de\s+communes|d'agglomeration|urbaine)|metropole|etablissement\s+public)"
)


def _overlaps(box: tuple[float, float, float, float], x0: float, x1: float) -> bool:
    return box[2] > x0 - 3 and box[0] < x1 + 3


def _last_role(text: str) -> str | None:
    best: tuple[int, str] | None = None
    for role, pattern in _ROLE_PATTERNS:
        for match in pattern.finditer(text):
            if best is None or match.start() > best[0]:
                best = (match.start(), role)
    return best[1] if best else None


def _role_by_position(line: Line, x0: float) -> RoleGuess:
    page = line.page
    if line.top > 0.85 * page.height:
        return RoleGuess("supplier", 0.65, by_position=True)  # the issuer's legal footer
    if page.number == 1 and line.bottom < 0.35 * page.height:
        if x0 >= 0.45 * page.width:
            return RoleGuess("recipient", 0.4, by_position=True)  # the addressee block
        return RoleGuess("supplier", 0.5, by_position=True)  # the letterhead
    return RoleGuess("supplier", 0.3, by_position=True)


@dataclass(frozen=True)
class PartyNumber:
    value: str
    confidence: float
    role: RoleGuess
    line: int
    start: int
    end: int


def party_numbers(
    doc: Doc, labelled: list[Candidate], kind: str, finder: ValueFinder
) -> list[PartyNumber]:
    """Every SIRET (or VAT id) with its role: the labelled ones, then valid unlabelled
    numbers (a SIRET printed in a footer without its label)."""
    numbers: list[PartyNumber] = []
    seen: set[tuple[int, int]] = set()
    for cand in labelled:
        if cand.field != kind:
            continue
        seen.add((cand.line, cand.start))
        role = party_role(doc, cand.line, cand.start, cand.end)
        numbers.append(
            PartyNumber(cand.value, cand.confidence, role, cand.line, cand.start, cand.end)
        )
    for index, line in enumerate(doc.lines):
        for value in finder(line, 0, len(line.folded)):
            if (index, value.start) in seen or value.quality < 1.0:
                continue
            if kind == "siret" and _inside_other_number(line, value):
                continue
            role = party_role(doc, index, value.start, value.end)
            confidence = 0.55 * reader_factor(line.confidence(value.start, value.end), checked=True)
            numbers.append(PartyNumber(value.text, confidence, role, index, value.start, value.end))
    return numbers


def _inside_other_number(line: Line, value: Value) -> bool:
    """A 14-digit run inside an IBAN or a VAT number is not a SIRET."""
    spans = [(v.start, v.end) for v in find_ibans(line, 0, len(line.folded))]
    spans += [(v.start, v.end) for v in find_vat_ids(line, 0, len(line.folded))]
    return any(s < value.end and e > value.start for s, e in spans)


#: Which roles a field accepts, and how much each counts.
_FIELD_ROLES: dict[str, dict[str, float]] = {
    "supplier": {"supplier": 1.0, "subcontractor": 1.0},
    "recipient": {"recipient": 1.0, "moa": 1.0},
    "moa": {"moa": 1.0},
    "moe": {"moe": 1.0},
}


def _role_weight(role: RoleGuess, field_role: str) -> float:
    """How much a number with ``role`` counts for the ``field_role`` field (0: not)."""
    return _FIELD_ROLES[field_role].get(role.role, 0.0) * (0.6 + 0.4 * role.strength)


# =========================================================================== names

_NAME_BLOCKERS = re.compile(
    r"siret|siren|\btva\b|\btel\b|telephone|\bfax\b|mail|@|www\.|http|iban|\bbic\b|"
    r"\brue\b|avenue|\bav\.|boulevard|\bbd\b|chemin|allee|\bplace\b|impasse|route\b|cedex|"
    r"\b\d{5}\b|\bbp\s*\d|n\s?°|\bcode\b|facture|date|page|\bref|capital|\brcs\b|siege|"
    r"numero|adresse|livraison|delivery|address|contact|objet|\bperiode\b|montant|total"
)
_LEGAL_FORM = re.compile(
    r"\b(?:sas|sasu|sarl|eurl|sa|snc|scop|sci|sca|selarl|gie|ets|etablissements|"
    r"entreprise|societe|groupe|&\s*fils|cie)\b"
)
_TITLE_WORDS = re.compile(
    r"\b(?:facture|avoir|decompte|etat|projet|demande|situation|releve|duplicata|original)\b"
)


def _clean_name(text: str) -> str:
    return text.strip(" \t:-–,;").strip()


def _name_ok(text: str) -> bool:
    folded = fold_text(text)
    letters = sum(c.isalpha() for c in text)
    return (
        letters >= 3
        and not text[:1].isdigit()
        and not _NAME_BLOCKERS.search(folded)
        and letters >= 0.6 * len(text.replace(" ", ""))
    )


@dataclass(frozen=True)
class NameCandidate:
    value: str
    confidence: float
    line: int
    start: int
    end: int


def _heading_names(doc: Doc, roles: set[str]) -> list[NameCandidate]:
    """Names under (or after) a party heading: ``Client :`` then the name."""
    found = []
    for index, line in enumerate(doc.lines):
        for role, pattern in _ROLE_PATTERNS:
            if role not in roles:
                continue
            for match in pattern.finditer(line.folded):
                found.extend(_name_after(doc, index, match.start(), match.end(), role))
    return found


def _name_after(doc: Doc, index: int, start: int, end: int, role: str) -> list[NameCandidate]:
    line = doc.lines[index]
    seg_start, seg_end = line.segment_of(start)
    if role == "recipient" and line.folded.startswith("ministere", start):
        # "Ministère de …" is the name itself.
        name = _first_chunk(line, start, seg_end)
        return [NameCandidate(name[0], 0.6, index, name[1], name[2])] if name else []
    # A heading starts its segment and ends with a colon or nothing: "Client :",
    # "Maître d'ouvrage (MOA) :", "Titulaire du compte : NETPRESSE", "Facturé à".
    if line.folded[seg_start:start].strip(" -:•*"):
        return []
    after = line.folded[end:seg_end]
    colon = re.match(r"\s*(?:\([^)]{0,20}\))?[a-z' ]{0,25}?\s*:\s*", after)
    if colon and after[colon.end() :].strip():
        name = _first_chunk(line, end + colon.end(), seg_end)
        if name is None or role == "moe":
            return []
        return [NameCandidate(name[0], 0.6, index, name[1], name[2])]
    rest = re.sub(r"\([^)]*\)", "", after).strip(" :")
    # "Entreprise titulaire", "Maître d'ouvrage (MOA)": a heading of a few words, the
    # name below; anything longer is a sentence.
    if len(rest.split()) > 2 or any(c.isdigit() for c in rest):
        return []
    return _name_below(doc, index, start, end)


def _name_below(doc: Doc, index: int, start: int, end: int) -> list[NameCandidate]:
    """The first line under a heading that stands alone, in its column."""
    line = doc.lines[index]
    hx0, _, hx1, _ = line.box(start, end)
    for below in doc.page_lines(index):
        if below <= index:
            continue
        other = doc.lines[below]
        if other.top - line.bottom > 3 * max(line.height, other.height):
            return []
        for s, e in other.segments:
            if _overlaps(other.box(s, e), hx0, hx1 + 60):
                name = _first_chunk(other, s, e)
                if name is None:
                    return []
                return [NameCandidate(name[0], 0.55, below, name[1], name[2])]
    return []


_LEGAL_FORM_EDGE = re.compile(
    r"^(?:sas|sasu|sarl|eurl|sa|snc|scop|sci|sca|selarl|gie)\b[\s,-]*|"
    r"[\s,-]*\b(?:sas|sasu|sarl|eurl|sa|snc|scop|sci|sca|selarl|gie)\.?$",
    re.IGNORECASE,
)


def strip_legal_form(name: str) -> str:
    """The raison sociale without its forme juridique ("Au bon moulin SARL" -> "Au bon
    moulin"), as the company registers (and the deposit form) give it."""
    stripped = _LEGAL_FORM_EDGE.sub("", name).strip()
    return stripped if sum(c.isalpha() for c in stripped) >= 3 else name


def _first_chunk(line: Line, start: int, end: int) -> tuple[str, int, int] | None:
    """The name at the start of a span, cut at " - ", " | " or a comma (a letterhead line
    often goes on with the address), if it looks like a name."""
    stop = end
    for cut in re.finditer(r"\s[-|–]\s|,|\s{2,}", line.folded[start:end]):
        rest = _clean_name(line.original(start + cut.end(), end))
        if not _name_ok(rest):
            stop = start + cut.start()
            break
    text = _clean_name(line.original(start, stop))
    text = re.sub(r"^(?i:nom|raison\s+sociale|d[ée]nomination|soci[ée]t[ée])\s*:\s*", "", text)
    if not _name_ok(text):
        return None
    return text, start, stop


def _letterhead_name(doc: Doc) -> NameCandidate | None:
    """The issuer's name: the first plausible line at the top of page 1."""
    for index, line in enumerate(doc.lines):
        page = line.page
        if page.number != 1 or line.top > 0.25 * page.height:
            return None
        for s, e in line.segments:
            x0, _, _, _ = line.box(s, e)
            if x0 > 0.5 * page.width or _TITLE_WORDS.search(line.folded[s:e]):
                continue
            name = _first_chunk(line, s, e)
            if name is None:
                continue
            confidence = 0.45 + (0.15 if _LEGAL_FORM.search(fold_text(name[0])) else 0.0)
            text = name[0] + _continuation(doc, index, x0)
            return NameCandidate(text, confidence, index, name[1], name[2])
    return None


def _continuation(doc: Doc, index: int, x0: float) -> str:
    """A letterhead name wrapped onto the next line: same size, same left edge, no gap,
    letters only ("ÉLAGAGE & ESPACES" / "VERTS DU GARD")."""
    if index + 1 >= len(doc.lines):
        return ""
    line, nxt = doc.lines[index], doc.lines[index + 1]
    first = nxt.segments[0]
    nx0, _, _, _ = nxt.box(*first)
    text = _clean_name(nxt.original(*first))
    # OCR boxes hug the glyphs (an accent makes a word taller): looser tolerances.
    ocr = line.page.source is FieldSource.OCR
    same_size = abs(nxt.height - line.height) <= (0.35 if ocr else 0.1) * line.height
    close = nxt.top - line.bottom < (0.9 if ocr else 0.6) * line.height
    aligned = abs(nx0 - x0) < (6 if ocr else 2)
    if same_size and close and aligned and _name_ok(text) and text.isupper():
        return " " + text
    return ""


def _window_name(doc: Doc) -> NameCandidate | None:
    """The addressee's name when no heading names it: the first line of an address block
    (a block that ends with a postcode) on the right of the upper part of page 1, where
    the envelope window is. A guess: low confidence."""
    for index, line in enumerate(doc.lines):
        page = line.page
        if page.number != 1 or line.top > 0.4 * page.height:
            return None
        for s, e in line.segments:
            x0, _, _, _ = line.box(s, e)
            if x0 < 0.45 * page.width or _TITLE_WORDS.search(line.folded[s:e]):
                continue
            name = _first_chunk(line, s, e)
            if name is not None and _postcode_below(doc, index, x0):
                return NameCandidate(name[0], 0.4, index, name[1], name[2])
    return None


def _postcode_below(doc: Doc, index: int, x0: float) -> bool:
    """A French postcode on one of the next lines starting at ``x0``: an address block."""
    seen = 0
    for below in range(index + 1, len(doc.lines)):
        line = doc.lines[below]
        if line.page.number != doc.lines[index].page.number or seen >= 5:
            return False
        for s, e in line.segments:
            sx0, _, _, _ = line.box(s, e)
            if abs(sx0 - x0) < 4:
                seen += 1
                if re.search(r"\b\d{5}\b", line.folded[s:e]):
                    return True
    return False


# =========================================================================== resolution


def _extracted(
    doc: Doc, value: str, confidence: float, line: int, start: int, end: int
) -> ExtractedField:
    page_line = doc.lines[line]
    return ExtractedField(
        value=value,
        confidence=round(min(MAX_CONFIDENCE, max(0.0, confidence)), 3),
        source=page_line.page.source,
        page=page_line.page.number,
        bbox=original_bbox(page_line.page, page_line.box(start, end)),
    )


@dataclass(frozen=True)
class Choice:
    """The best value of a field after agreement and competition."""

    candidate: Candidate
    confidence: float
    runner_up: float


def competition(ratio: float) -> float:
    """What a competitor with another value leaves of the best one's confidence, by the
    ratio of their scores: an equal competitor a third off, a weak one almost nothing."""
    return 1 - 0.35 * min(1.0, ratio) ** 2


def choose(candidates: Sequence[Candidate]) -> Choice | None:
    if not candidates:
        return None
    by_value: dict[str, list[Candidate]] = defaultdict(list)
    for cand in candidates:
        by_value[cand.value].append(cand)
    scored = []
    for group in by_value.values():
        group.sort(key=lambda c: -c.confidence)
        # Several labels pointing at one value (a number repeated in the footer) add a
        # little; never as much as a check would.
        bonus = sum(0.05 * c.confidence for c in group[1:3])
        scored.append((min(MAX_CONFIDENCE, group[0].confidence + bonus), group[0]))
    scored.sort(key=lambda item: -item[0])
    best_conf, best = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    # A close competitor with another value: we are less sure than the best alone says.
    if runner_up:
        best_conf *= competition(runner_up / best_conf)
    return Choice(best, best_conf, runner_up)


def find_fields(pages: Sequence[Page], *, kind: DocumentKind | None = None) -> FieldReading:
    """Pre-fill every canonical field from the words of the pages. ``kind``, when known,
    says whose letterhead it is (an état d'acompte is the maître d'œuvre's)."""
    doc = build_doc(pages)
    findings: list[Finding] = []
    labelled = labelled_candidates(doc)
    by_field: dict[str, list[Candidate]] = defaultdict(list)
    for cand in labelled:
        by_field[cand.field].append(cand)

    values: dict[str, ExtractedField] = {}
    for name in ("invoice_number", "service_code", "engagement_number", "contract_number", "iban"):
        choice = choose(by_field[name] + _unlabelled(doc, name))
        values[name] = _field_from_choice(doc, name, choice, findings)
    values["issue_date"] = _field_from_choice(
        doc, "issue_date", choose(by_field["issue_date"] or _fallback_dates(doc)), findings
    )
    values.update(_amount_fields(doc, by_field, findings))
    values["currency"] = _currency(doc)
    values.update(_party_fields(doc, labelled, kind))
    values.update(_name_fields(doc, kind))
    return FieldReading(fields=PieceFields(**values), findings=tuple(findings))


def _unlabelled(doc: Doc, name: str) -> list[Candidate]:
    """Values valid on their own, wherever printed: an IBAN passes its checksum."""
    if name != "iban":
        return []
    found = []
    for index, line in enumerate(doc.lines):
        for value in find_ibans(line, 0, len(line.folded)):
            confidence = 0.6 * reader_factor(line.confidence(value.start, value.end), checked=True)
            found.append(Candidate("iban", value.text, confidence, index, value.start, value.end))
    return found


def _fallback_dates(doc: Doc) -> list[Candidate]:
    """No date label: the first date in the top half of page 1, with little confidence."""
    for index, line in enumerate(doc.lines):
        if line.page.number != 1 or line.top > 0.5 * line.page.height:
            break
        blocked = [h for h in doc.hits[index] if h.field != "issue_date"]
        for value in find_dates(line, 0, len(line.folded)):
            if any(h.end <= value.start for h in blocked):
                continue
            conf = 0.35 * reader_factor(line.confidence(value.start, value.end))
            return [Candidate("issue_date", value.text, conf, index, value.start, value.end)]
    return []


def _field_from_choice(
    doc: Doc, name: str, choice: Choice | None, findings: list[Finding]
) -> ExtractedField:
    if choice is None or choice.confidence < MIN_CONFIDENCE:
        return ExtractedField()
    if choice.runner_up > 0.7 * choice.candidate.confidence:
        findings.append(
            Finding(
                code="FIELD_AMBIGUOUS",
                severity=Severity.INFO,
                field=name,
                message=f"several values could be the {name.replace('_', ' ')}; "
                f"{choice.candidate.value} was pre-filled: check it",
                location=f"page {doc.lines[choice.candidate.line].page.number}",
            )
        )
    cand = choice.candidate
    return _extracted(doc, cand.value, choice.confidence, cand.line, cand.start, cand.end)


# --------------------------------------------------------------------------- amounts

_EXEMPT_RE = re.compile(
    r"tva\s+non\s+applicable|autoliquidation|exonere|exoneration\s+de\s+tva|sans\s+tva|"
    r"art(?:icle)?\.?\s+293\s*b|283-?2|auto-liquidation"
)
_NET_DIFFERS_RE = re.compile(
    r"retenue\s+de\s+garantie|remboursement\s+(?:de\s+l')?avance|acomptes?\s+(?:deja\s+)?"
    r"(?:verses|regles|payes|percus)|deja\s+(?:paye|regle|verse)"
)


def _amount_fields(
    doc: Doc, by_field: dict[str, list[Candidate]], findings: list[Finding]
) -> dict[str, ExtractedField]:
    by_field["total_tax"] = by_field["total_tax"] or _exempt_zero(doc, by_field)
    settled = _settle_totals(doc, by_field, findings)
    settled.update(_settle_due(doc, by_field, settled))
    result = {}
    for name in AMOUNT_FIELDS:
        if name not in settled or settled[name][1] < MIN_CONFIDENCE:
            result[name] = ExtractedField()
            continue
        cand, confidence = settled[name]
        result[name] = _extracted(doc, cand.value, confidence, cand.line, cand.start, cand.end)
    return result


_TOTALS = ("total_excl_tax", "total_tax", "total_incl_tax")


def _exempt_zero(doc: Doc, by_field: dict[str, list[Candidate]]) -> list[Candidate]:
    """No VAT amount printed but an exemption mention (autoliquidation, art. 293 B):
    the VAT is 0.00, provided HT and TTC do not say otherwise."""
    exempt = _first_match(doc, _EXEMPT_RE)
    ht, ttc = choose(by_field["total_excl_tax"]), choose(by_field["total_incl_tax"])
    if exempt is None or (ht and ttc and ht.candidate.value != ttc.candidate.value):
        return []
    index, start, end = exempt
    return [Candidate("total_tax", "0.00", 0.6, index, start, end)]


def _settle_totals(
    doc: Doc, by_field: dict[str, list[Candidate]], findings: list[Finding]
) -> dict[str, tuple[Candidate, float]]:
    """HT, TVA, TTC: the triple that adds up if there is one (each then much more likely
    right), else each field's best, trusted less."""
    triple = _reconcile(by_field, _TOTALS)
    if triple is not None:
        return {
            name: (cand, cand.confidence + (MAX_CONFIDENCE - cand.confidence) * 0.65)
            for name, cand in zip(_TOTALS, triple, strict=True)
        }
    choices = {name: choose(by_field[name]) for name in _TOTALS}
    present = {name: choice for name, choice in choices.items() if choice is not None}
    # All three read but not adding up is a failed check; a missing one, no check. A text
    # layer does not misread digits: there the printed amounts themselves disagree, and
    # each one is still what the page says.
    if len(present) < 3:
        factor = 0.85
    elif all(
        doc.lines[c.candidate.line].page.source is FieldSource.TEXT_LAYER for c in present.values()
    ):
        factor = 0.95
    else:
        factor = 0.75
    if len(present) == 3:
        findings.append(
            Finding(
                code="AMOUNTS_NOT_RECONCILED",
                severity=Severity.INFO,
                field="total_incl_tax",
                message="the amounts read do not add up (HT + TVA ≠ TTC): check them",
            )
        )
    return {name: (c.candidate, c.confidence * factor) for name, c in present.items()}


def _settle_due(
    doc: Doc, by_field: dict[str, list[Candidate]], totals: dict[str, tuple[Candidate, float]]
) -> dict[str, tuple[Candidate, float]]:
    due = choose(by_field["amount_due"])
    ttc = totals.get("total_incl_tax")
    if due is not None:
        confidence = due.confidence
        if ttc is not None and ttc[0].value == due.candidate.value:
            confidence = max(confidence, ttc[1])  # the TTC's check vouches for it too
        return {"amount_due": (due.candidate, confidence)}
    if ttc is not None and _first_match(doc, _NET_DIFFERS_RE) is None:
        # No "net à payer" printed and nothing deducted: the TTC is what is due (BT-115).
        return {"amount_due": (ttc[0], ttc[1] * 0.85)}
    return {}


def _reconcile(
    by_field: dict[str, list[Candidate]], names: tuple[str, str, str]
) -> tuple[Candidate, Candidate, Candidate] | None:
    """The best-scored HT, TVA, TTC candidates with HT + TVA = TTC, if any."""
    pools = [_top_distinct(by_field[name]) for name in names]
    best: tuple[float, tuple[Candidate, Candidate, Candidate]] | None = None
    for ht in pools[0]:
        for tva in pools[1]:
            for ttc in pools[2]:
                if Decimal(ht.value) + Decimal(tva.value) != Decimal(ttc.value):
                    continue
                if Decimal(ttc.value) == 0:
                    continue
                score = ht.confidence + tva.confidence + ttc.confidence
                if best is None or score > best[0]:
                    best = (score, (ht, tva, ttc))
    return best[1] if best else None


def _top_distinct(candidates: Sequence[Candidate], limit: int = 5) -> list[Candidate]:
    best: dict[str, Candidate] = {}
    for cand in sorted(candidates, key=lambda c: -c.confidence):
        best.setdefault(cand.value, cand)
    return list(best.values())[:limit]


def _first_match(doc: Doc, regex: re.Pattern[str]) -> tuple[int, int, int] | None:
    for index, line in enumerate(doc.lines):
        match = regex.search(line.folded)
        if match:
            return index, match.start(), match.end()
    return None


# --------------------------------------------------------------------------- currency

_CURRENCIES = (
    ("EUR", re.compile(r"€|\beur\b|\beuros?\b")),
    ("USD", re.compile(r"\busd\b|\$")),
    ("GBP", re.compile(r"\bgbp\b|£")),
    ("CHF", re.compile(r"\bchf\b")),
)


def _currency(doc: Doc) -> ExtractedField:
    counts: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for index, line in enumerate(doc.lines):
        for code, regex in _CURRENCIES:
            for match in regex.finditer(line.folded):
                counts[code].append((index, match.start(), match.end()))
    if not counts:
        # Nothing printed: a French public invoice is in euros, but we did not see it.
        return ExtractedField(value="EUR", confidence=0.6, source=_source(doc))
    code = max(counts, key=lambda c: (len(counts[c]), c == "EUR"))
    index, start, end = counts[code][0]
    confidence = 0.95 if code == "EUR" else 0.8
    reader = doc.lines[index].confidence(start, end)
    return _extracted(doc, code, confidence * (0.5 + 0.5 * reader), index, start, end)


def _source(doc: Doc) -> FieldSource | None:
    return doc.lines[0].page.source if doc.lines else None


# --------------------------------------------------------------------------- parties


def _party_fields(
    doc: Doc, labelled: list[Candidate], kind: DocumentKind | None
) -> dict[str, ExtractedField]:
    sirets = _as_issued(party_numbers(doc, labelled, "siret", find_sirets), kind)
    vats = _as_issued(party_numbers(doc, labelled, "vat", find_vat_ids), kind)
    roles = _value_roles(sirets)
    # Each SIRET goes to the role its best occurrence gives it; the MOA is also the
    # recipient of a works piece (DESIGN 4.1).
    moa = _best_party(sirets, "moa", roles, {"moa"})
    moe = _best_party(sirets, "moe", roles, {"moe"})
    recipient = _best_party(sirets, "recipient", roles, {"recipient", "moa"})
    # A subcontractor's payment request names the titulaire too: the subcontractor is
    # the one being paid.
    subcontractors = [n for n in sirets if n.role.role == "subcontractor"]
    supplier = _best_party(
        subcontractors or sirets, "supplier", roles, {"supplier", "subcontractor"}
    )
    supplier_vat = _best_party(vats, "supplier", _value_roles(vats), {"supplier", "subcontractor"})
    if supplier_vat and supplier and supplier_vat[0].value[4:] == supplier[0].value[:9]:
        # The VAT number carries the SIREN: both readings confirm each other.
        supplier_vat = (supplier_vat[0], min(MAX_CONFIDENCE, supplier_vat[1] * 1.2))
        supplier = (supplier[0], min(MAX_CONFIDENCE, supplier[1] * 1.2))
    elif supplier_vat and recipient and supplier_vat[0].value[4:] == recipient[0].value[:9]:
        supplier_vat = None  # the buyer's VAT number
    picks = {
        "supplier_siret": supplier,
        "supplier_vat_id": supplier_vat,
        "recipient_siret": recipient,
        "moa_siret": moa,
        "moe_siret": moe,
    }
    result: dict[str, ExtractedField] = {}
    for name, pick in picks.items():
        if pick is None or pick[1] < MIN_CONFIDENCE:
            result[name] = ExtractedField()
            continue
        number, score = pick
        result[name] = _extracted(doc, number.value, score, number.line, number.start, number.end)
    return result


def _as_issued(numbers: list[PartyNumber], kind: DocumentKind | None) -> list[PartyNumber]:
    """An état d'acompte is issued by the maître d'œuvre (CCAG Travaux 12.2.2), an état
    d'acompte validé by the MOE or the MOA: there the letterhead and footer numbers are
    the issuer's, not the paid firm's (DESIGN 4.1)."""
    if kind not in (DocumentKind.ETAT_ACOMPTE, DocumentKind.ETAT_ACOMPTE_VALIDE):
        return numbers
    issuer = "moe" if kind is DocumentKind.ETAT_ACOMPTE else "issuer"
    out = []
    for number in numbers:
        role = number.role
        if role.by_position and role.role == "supplier":
            role = RoleGuess(issuer, role.strength * 0.6, by_position=True)
        out.append(
            PartyNumber(
                number.value, number.confidence, role, number.line, number.start, number.end
            )
        )
    return out


def _value_roles(numbers: list[PartyNumber]) -> dict[str, str]:
    """The role of each distinct number: the one its most certain occurrence gives."""
    best: dict[str, tuple[float, str]] = {}
    for number in numbers:
        score = number.confidence * (0.6 + 0.4 * number.role.strength)
        if number.value not in best or score > best[number.value][0]:
            best[number.value] = (score, number.role.role)
    return {value: role for value, (_, role) in best.items()}


def _best_party(
    numbers: list[PartyNumber], field_role: str, roles: dict[str, str], accepted: set[str]
) -> tuple[PartyNumber, float] | None:
    """The best number for a party field, less sure when another number competes."""
    scored: dict[str, tuple[float, PartyNumber]] = {}
    for number in numbers:
        if roles.get(number.value) not in accepted:
            continue
        score = number.confidence * _role_weight(number.role, field_role)
        if score > 0 and (number.value not in scored or score > scored[number.value][0]):
            scored[number.value] = (score, number)
    if not scored:
        return None
    ranked = sorted(scored.values(), key=lambda item: -item[0])
    score, number = ranked[0]
    if len(ranked) > 1:
        score *= competition(ranked[1][0] / score)
    return number, score


def _name_fields(doc: Doc, kind: DocumentKind | None) -> dict[str, ExtractedField]:
    result: dict[str, ExtractedField] = {}
    recipients = _heading_names(doc, {"recipient", "moa"})
    suppliers = _heading_names(doc, {"subcontractor"}) or _heading_names(doc, {"supplier"})
    letterhead = _letterhead_name(doc)
    # The letterhead of an état d'acompte is the maître d'œuvre's (see _as_issued).
    if letterhead and kind not in (DocumentKind.ETAT_ACOMPTE, DocumentKind.ETAT_ACOMPTE_VALIDE):
        suppliers.append(letterhead)
    if not recipients:
        window = _window_name(doc)
        recipients = [window] if window else []
    recipient = max(recipients, key=lambda n: n.confidence, default=None)
    supplier = max(
        (n for n in suppliers if recipient is None or n.value != recipient.value),
        key=lambda n: n.confidence,
        default=None,
    )
    for name, pick in (("supplier_name", supplier), ("recipient_name", recipient)):
        if pick is None or pick.confidence < MIN_CONFIDENCE:
            result[name] = ExtractedField()
            continue
        value = strip_legal_form(pick.value)
        result[name] = _extracted(doc, value, pick.confidence, pick.line, pick.start, pick.end)
    return result


# =========================================================================== kind


def settle_for_kind(fields: PieceFields, kind: DocumentKind | None) -> PieceFields:
    """DESIGN 4.1 by document kind: MOE/MOA are null on invoices and credit notes; on
    works pieces the recipient is the maître d'ouvrage."""
    if kind is None:
        return fields
    if not kind.is_works_piece:
        return replace_fields(fields, moe_siret=ExtractedField(), moa_siret=ExtractedField())
    if fields.moa_siret.value is None and fields.recipient_siret.value is not None:
        return replace_fields(fields, moa_siret=_scaled(fields.recipient_siret, 0.85))
    if fields.recipient_siret.value is None and fields.moa_siret.value is not None:
        return replace_fields(fields, recipient_siret=_scaled(fields.moa_siret, 0.9))
    return fields


def replace_fields(fields: PieceFields, **changes: ExtractedField) -> PieceFields:
    return fields.model_copy(update=changes)


def _scaled(field: ExtractedField, factor: float) -> ExtractedField:
    return field.model_copy(update={"confidence": round(field.confidence * factor, 3)})


__all__ = [
    "FieldReading",
    "find_fields",
    "format_amount",
    "parse_amount",
    "parse_date",
    "settle_for_kind",
]
