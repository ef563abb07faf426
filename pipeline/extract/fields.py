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
whose best candidate ends under ``MIN_VALUE_CONFIDENCE`` (``MIN_CONFIDENCE`` for a party's
number or name) stays null; what is kept under 0.8 goes to review: a wrong value that
looks certain costs more than an empty one.

Values are normalised as DESIGN 4.1 says: ISO dates, amounts with two decimals and a dot
(positive: credit notes carry positive amounts), identifiers without spaces, EUR.

Amounts are chosen by what must hold (``checks``): HT + TVA = TTC, VAT lines of a
multi-rate breakdown summing to the VAT, the net to pay being the TTC less the deductions
printed. A value repaired or swapped because a check failed is recorded as a
``FIELD_CORRECTED`` finding. Who is who (roles of numbers, names, whose letterhead it is)
lives in ``parties``; the page model (lines, labels, hits) in ``layout``.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation

from pydantic import Field
from stdnum import iban as stdnum_iban
from stdnum.fr import siret as stdnum_siret
from stdnum.fr import tva as stdnum_tva

from pipeline.extract.checks import net_after, parse_rate, parse_rates, rate_holds, vat_of
from pipeline.extract.layout import (
    MAX_CONFIDENCE,
    MIN_CONFIDENCE,
    Doc,
    Hit,
    Label,
    extracted,
    make_label,
)
from pipeline.extract.parties import (
    MONTHLY_BY_MOE,
    RoleGuess,
    issuer_of,
    name_fields,
    paid_roles,
    party_role,
)
from pipeline.extract.pdf_text import Line, Page, fold_text, group_lines
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

#: A reference, a date or an amount found at its label is kept from this confidence,
#: lower than a party's (``MIN_CONFIDENCE``): flagged for review, an unsure value still
#: saves the typing, while a party's number or name goes on to the routing checks.
MIN_VALUE_CONFIDENCE = 0.2


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
    "mar": 3,
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
#: English months, as a French firm's invoices printed for an international group (or an
#: EU supplier's) date them: « 12 March 2025 », « March 12, 2025 ».
_ENGLISH_MONTHS = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
_MONTHS.update(_ENGLISH_MONTHS)


# Amounts as French documents print them: 7 850,00 / 7.850,00 / 7850.00 / -1 200,00 €.
# Spaces inside the number come from U+00A0, U+202F or pdfplumber splitting the words
# (the line text joins close words with one space, distant ones with a tab).
def _amount_re(decimal_comma: str, *, ocr: bool = False) -> re.Pattern[str]:
    # OCR loses a space between the millions and the thousands: "1210 650,75".
    lost_space = r"\d{4}(?: \d{3})+|" if ocr else ""
    return re.compile(
        r"(?<![\w,/-])(?<!\d\.)"  # after a dotted leader ("……1 234,56") but not in a number
        r"(?P<sign>-\s?)?"
        # English layouts group thousands with commas: "2,076.76" (with its decimal point).
        rf"(?P<int>{lost_space}\d{{1,3}}(?:[ .]\d{{3}})+|\d{{1,3}}(?:'\d{{3}})+|"
        r"\d{1,3}(?:,\d{3})+(?=\.\d{2}(?!\d))|\d+)"
        rf"(?:{decimal_comma}(?P<dec>\d{{2}})|\.(?P<dot>\d{{2}}))?"
        r"(?![\d]|[.,/]\d)"  # not the start of a date or of a longer number
        r"(?!\s?%)"  # a rate, not an amount
        r"(?P<cur>\s?(?:€|eur\b|euros?\b))?"
    )


_AMOUNT_RE = _amount_re(",")
#: OCR of a monospace font sees the comma's whole cell as a gap: "26510, 74", "27906 ,04".
_OCR_AMOUNT_RE = _amount_re(r"(?:,| ,|, )", ocr=True)

_NUMERIC_DATE_RE = re.compile(
    r"(?<![\d/-])(?<!\d\.)(?P<d>\d{1,2})\s?(?P<sep>[/.-])\s?(?P<m>\d{1,2})\s?(?P=sep)\s?"
    r"(?P<y>\d{4}|\d{2})(?![\d])"
)
#: ISO dates, as accounting exports print them: 2024-03-12.
_ISO_DATE_RE = re.compile(r"(?<![\d/.-])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?![\d/.-])")
_WRITTEN_DATE_RE = re.compile(
    # OCR reads the « 1 » of « 1er » as an l or an I: « ler juin 2024 ».
    r"(?<!\w)(?P<d>[1li|]er|\d{1,2})(?:st|nd|rd|th)?\s+(?P<m>"
    + "|".join(sorted(_MONTHS, key=len, reverse=True))
    + r")\.?\s+(?P<y>\d{4})(?!\d)"
)
#: The month first, as American English writes it: « March 12, 2025 ».
_MONTH_FIRST_DATE_RE = re.compile(
    r"(?<!\w)(?P<m>"
    + "|".join(sorted(_ENGLISH_MONTHS, key=len, reverse=True))
    + r")\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})(?!\d)"
)
_DATE_RES = (_NUMERIC_DATE_RE, _ISO_DATE_RE, _WRITTEN_DATE_RE, _MONTH_FIRST_DATE_RE)


def parse_amount(text: str) -> Decimal | None:
    """The amount printed in ``text`` (the whole text must be one amount), signed."""
    folded = fold_text(text).strip()
    match = _AMOUNT_RE.fullmatch(folded)
    if not match or not (match["dec"] or match["dot"] or match["cur"]):
        return None
    return _amount_value(match)


def _amount_value(match: re.Match[str]) -> Decimal | None:
    integer = re.sub(r"[ .,']", "", match["int"])
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
    """The date printed in ``text`` (dd/mm/yyyy, dd.mm.yy, yyyy-mm-dd, ``1er avril 2024`` …)."""
    folded = fold_text(text).strip()
    for regex in _DATE_RES:
        match = regex.fullmatch(folded)
        if match:
            return _date_value(match)
    return None


def _date_value(match: re.Match[str]) -> date | None:
    day_text, month_text, year_text = match["d"], match["m"], match["y"]
    day = 1 if day_text.endswith("er") else int(day_text)
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
    pattern = _OCR_AMOUNT_RE if line.page.source is FieldSource.OCR else _AMOUNT_RE
    for match in pattern.finditer(line.folded, start, end):
        has_decimals = bool(match["dec"] or match["dot"])
        if not has_decimals and not match["cur"]:
            continue  # a quantity, a postcode, a phone group: not an amount
        amount = _amount_value(match)
        if amount is None:
            continue
        quality = 1.0 if has_decimals else 0.7
        if re.match(r"\d{4} ", match["int"]):
            quality *= 0.8  # a space OCR lost, or two numbers side by side: the sums tell
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
    for regex in _DATE_RES:
        for match in regex.finditer(line.folded, start, end):
            parsed = _date_value(match)
            if parsed is not None:
                quality = 1.0 if len(match["y"]) == 4 else 0.85
                if (
                    line.page.source is FieldSource.OCR
                    and regex is _NUMERIC_DATE_RE
                    and len(match["d"]) == 1
                    and len(match["m"]) == 2
                ):
                    quality *= 0.7  # "9/04/2025": a printed date pads both or neither
                values.append(Value(parsed.isoformat(), match.start(), match.end(), quality))
    return sorted(values, key=lambda v: v.start)


# Runs of digits separated by single spaces or dots: a SIRET is 14 digits aligned on the
# groups of one run ("552 462 814 00013"), never part of a longer group.
_DIGIT_RUN_RE = re.compile(r"(?<![\w])\d+(?:[ .]\d+)*(?![\w])")


#: Letters OCR reads for digits, in folded (lower-case) text.
_OCR_DIGITS = str.maketrans("oil|!]sbq", "011111580")


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
        if word.isdigit():
            continue
        if re.fullmatch(r"[0-9oil|]{1,5}", word):
            neighbours = tokens[max(0, i - 1) : i] + tokens[i + 1 : i + 2]
            if any(n.group().isdigit() for n in neighbours):
                text[token.start() : token.end()] = word.translate(_OCR_DIGITS)
        elif (
            re.fullmatch(r"\d[0-9oil|!\]]{5,13}", word)
            and sum(c.isdigit() for c in word) >= len(word) - 2
        ):
            # A long run of digits with one or two misread ("213030828000! 5").
            text[token.start() : token.end()] = word.translate(_OCR_DIGITS)
    return "".join(text)


def find_sirets(line: Line, start: int, end: int) -> list[Value]:
    text = _ocr_digits(line)
    values = _sirets_in(text, start, end)
    if line.page.source is FieldSource.OCR and "\t" in text[start:end]:
        # OCR may widen one space of a printed SIRET into a column break ("226 763 |
        # 571 00040"): joined across it only when the checksum holds.
        found = {(v.start, v.end) for v in values}
        values += [
            v
            for v in _sirets_in(text.replace("\t", " "), start, end)
            if v.checked and (v.start, v.end) not in found and "\t" in text[v.start : v.end]
        ]
    return values


def _sirets_in(text: str, start: int, end: int) -> list[Value]:
    values = []
    for run in _DIGIT_RUN_RE.finditer(text, start, end):
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


# The key (2 characters after FR) never uses I or O; OCR reads its 0 and 1 as O, I or L.
_VAT_RE = re.compile(r"(?<![a-z0-9])fr(?:[ .]?[0-9a-z]){2}(?:[ .]?\d){9}(?!\d)")
_VAT_KEY_SLIPS = str.maketrans("OILB", "0118")
#: On an OCR'd page the key may come with a letter too many: a bold zero read « 0O ».
_OCR_VAT_RE = re.compile(r"(?<![a-z0-9])fr(?:[ .]?[0-9a-z]){2,3}(?:[ .]?\d){9}(?!\d)")


def _vat_repaired(number: str) -> str | None:
    """The one French VAT number the OCR'd ``number`` can be once its key's look-alike
    letters are read as figures (« FROB… » for « FR08… ») and, for a key of three
    characters, a doubled character dropped (« FR0O5… » for « FR05… »); the key's
    checksum decides, among keys of figures (the usual kind, and the only one whose
    checksum is strict)."""
    key, siren = number[2:-9], number[-9:]
    keys = [key] if len(key) == 2 else [key[:i] + key[i + 1 :] for i in range(3)]
    valid = {
        f"FR{k}{siren}"
        for k in (k.translate(_VAT_KEY_SLIPS) for k in keys)
        # A key of figures: the checksum of a key with letters is too weak to choose.
        if k.isdigit() and stdnum_tva.is_valid(f"FR{k}{siren}")
    }
    return valid.pop() if len(valid) == 1 else None


_OCR_ONES = str.maketrans("]|[!", "1111")


def find_vat_ids(line: Line, start: int, end: int) -> list[Value]:
    values = []
    text = line.folded
    if line.page.source is FieldSource.OCR:
        text = text.translate(_OCR_ONES)  # "FR64209422] 12": a 1 read as a bracket
    ocr = line.page.source is FieldSource.OCR
    for match in (_OCR_VAT_RE if ocr else _VAT_RE).finditer(text, start, end):
        number = re.sub(r"[ .]", "", match.group()).upper()
        quality = 1.0
        if ocr and not stdnum_tva.is_valid(number):
            repaired = _vat_repaired(number)
            if repaired:
                number, quality = repaired, 0.9  # the key's checksum confirms the repair
            elif len(number) > 13:
                continue
        if any(c in "IO" for c in number[2:4]):
            continue  # not a French VAT number
        valid = bool(stdnum_tva.is_valid(number))
        values.append(
            Value(number, match.start(), match.end(), quality if valid else 0.4, checked=valid)
        )
    return values


_IBAN_START_RE = re.compile(r"(?<![a-z0-9])[a-z]{2}\d{2}(?=[ -]?[a-z0-9])")


#: What OCR reads a thin vertical rule as, standing alone between two words.
_RULE_READ_RE = re.compile(r" (?:[(|)!\[\]{}]{1,2}[lij]?|[lij][(|)!\[\]{}]?)(?= )")


def find_ibans(line: Line, start: int, end: int) -> list[Value]:
    """IBANs checked with their checksum; the longest valid prefix of the run wins (the
    run may go on into a BIC or a bank name). On an OCR'd page, a run that fails its
    checksum is tried again with look-alike letters read as digits ("3OOO" for "3000")."""
    values = []
    ocr = line.page.source is FieldSource.OCR
    for match in _IBAN_START_RE.finditer(line.folded, start, end):
        chars = match.group()
        position = match.end()
        best: Value | None = None
        while position < end and len(chars) < 34:
            rule = _RULE_READ_RE.match(line.folded, position, end) if ocr else None
            if rule:
                position = rule.end()  # a table rule between two groups, read as "l" or "(l"
                continue
            step = re.match(r"[ -]?([a-z0-9]+)", line.folded[position:end])
            if not step:
                break
            chars += step.group(1)
            position += step.end()
            candidate = chars.upper()
            if len(candidate) > 34:
                break
            if stdnum_iban.is_valid(candidate):
                best = Value(candidate, match.start(), position, 1.0, checked=True)
            elif ocr and best is None:
                repaired = (chars[:2] + chars[2:].translate(_OCR_DIGITS)).upper()
                if stdnum_iban.is_valid(repaired):
                    best = Value(repaired, match.start(), position, 0.9, checked=True)
        if best:
            values.append(best)
    return values


_ID_LEAD_RE = re.compile(
    # "_" and quotes: OCR's reading of the rule or the corner of the box a value sits in.
    r"[\s:.#°*=/_\"“”)-]*(?:(?:n\s?[°o*]|no|num(?:ero)?)\.?(?=[\s:.\d])[\s:.#-]*)?"
    # A gloss in brackets between the label and its colon: "Marché n° (réf. acheteur) :".
    r"(?:\([^()\d]{1,30}\)\s*:\s*)?"
    # OCR reads a colon as "à", "i", "|" or ";": one such stray letter is skipped.
    r"(?:[ai|;!](?=\s+[a-z]{0,4}[-/]?\d))?\s*"
)
_ID_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9/_.\-]*")
#: One or two digits alone at the end of a reference's cell.
_SPLIT_DIGITS_RE = re.compile(r" \d{1,2}(?=\t|$)")
#: One more group of a reference printed in groups of digits, not a figure's decimals.
_DIGIT_GROUP_RE = re.compile(r" \d{3,}(?![\d,.]*\d)(?=\s|$)")
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


_OCR_ZERO_RE = re.compile(r"(?<=\d)O(?=\d)")
_OCR_PREFIX_ZERO_RE = re.compile(r"(?<=[A-Z]{2})O(?=\d{3})")
_OCR_PREFIX_O_RE = re.compile(r"^([A-Z]+)0([A-Z]*-)")
#: A letter OCR confuses with a digit, touching a digit.
_OCR_LOOKALIKE_RE = re.compile(r"[OIlSBZ](?=\d)|(?<=\d)[OIlSBZ]")
_OCR_AS_DIGITS = str.maketrans("OoIl", "0011")

#: Labels of other numbers: never the start of a reference.
_NOT_A_PREFIX = {"siret", "siren", "tva", "rcs", "ape", "naf", "tel", "fax", "bic", "iban", "page"}


def _identifier_finder(*, need_digit: bool, min_length: int = 2) -> ValueFinder:
    def find(line: Line, start: int, end: int) -> list[Value]:
        lead = _ID_LEAD_RE.match(line.folded, start, end)
        at = lead.end() if lead else start
        token = _ID_TOKEN_RE.match(line.folded, at, end)
        if not token:
            return []
        token_end = token.end()
        # A procedure prefix in capitals before the number ("MAPA 2024/037", "AO 2023-12"):
        # one reference, printed with a space.
        prefix = line.original(token.start(), token_end)
        if (
            re.fullmatch(r"[A-Z]{2,6}", prefix)
            and prefix.lower() not in _NOT_A_PREFIX
            and line.folded.startswith(" ", token_end)
        ):
            more = _ID_TOKEN_RE.match(line.folded, token_end + 1, end)
            if more and any(c.isdigit() for c in more.group()) and not parse_date(more.group()):
                token_end = more.end()
                # « FA 2024 0117 »: a number printed in groups of digits.
                while group := _DIGIT_GROUP_RE.match(line.folded, token_end, end):
                    token_end = group.end()
        # OCR and some layouts split "F-2024-" "0153": join across one space after a dash,
        # or, on an OCR'd page, before one ("MENJ -RECT-RNS").
        while True:
            if line.folded[token_end - 1] in "-/" and line.folded.startswith(" ", token_end):
                more = _ID_TOKEN_RE.match(line.folded, token_end + 1, end)
            elif line.page.source is FieldSource.OCR and line.folded.startswith(
                (" -", ":-"), token_end
            ):
                # « IMF:-25-00318 »: a speck read as a colon before the dash.
                more = _ID_TOKEN_RE.match(line.folded, token_end + 2, end)
            else:
                break
            if not more:
                break
            token_end = more.end()
        if line.page.source is FieldSource.OCR and re.search(r"[-/]\d+$", line.folded[:token_end]):
            # "DGD-2025-91 6": OCR split the last digits off a numbered reference.
            split = _SPLIT_DIGITS_RE.match(line.folded, token_end, end)
            if split:
                token_end = split.end()
        # "SERVICES-TECHNI…": cut short by a narrow cell, the rest is not on the page.
        cut_short = line.folded.startswith("..", token_end - 2)
        while line.folded[token_end - 1] in ".-/":
            token_end -= 1  # "F-2024-0153." ends a sentence
        folded = line.folded[token.start() : token_end].replace(":-", "-")
        text = line.original(token.start(), token_end).replace(":-", "-")
        if not re.fullmatch(r"[A-Z]{2,6} [^\s-]\S*", text):
            folded, text = folded.replace(" ", ""), text.replace(" ", "")
        if folded in _ID_STOPWORDS or _NOT_A_PREFIX.intersection(folded.split()):
            return []  # another number's label ("SIRET 213 …" in the next cell)
        if len(text) < min_length:
            return []
        has_digit = any(c.isdigit() for c in text)
        if need_digit and not has_digit:
            return []
        if parse_date(text) is not None or re.fullmatch(r"\d+[.,]\d{2}", text):
            return []  # a date or an amount, not a reference
        if _is_postcode(line, text, token_end):
            return []  # "68100 MULHOUSE": an address of another block
        quality = 1.0
        if line.page.source is FieldSource.OCR:
            text = _OCR_ZERO_RE.sub("0", text)  # "2O24": an O between digits is a zero
            # "AVRO6345": numbering runs put a 0 after a letter prefix far more often
            # than an O; still a guess, so the reading stays doubtful.
            text, prefix_zero = _OCR_PREFIX_ZERO_RE.subn("0", text)
            # "A0-2024-DEP-04": a letter prefix before its dash holds an O, not a zero.
            text, prefix_o = _OCR_PREFIX_O_RE.subn(r"\1O\2", text)
            if prefix_zero or prefix_o or _OCR_LOOKALIKE_RE.search(text):
                quality = 0.8  # OCR cannot tell O from 0 here
        if len(text) <= 3 and text.translate(_OCR_AS_DIGITS).isdigit():
            quality = 0.35  # an ordinal (Situation n° 7, an item's "01" read "O1")
        elif not has_digit and not text.isupper():
            quality = 0.4  # a plain word: probably a service name, not a code
        if cut_short:
            quality *= 0.6
        return [Value(text, token.start(), token_end, quality)]

    return find


def _is_postcode(line: Line, text: str, end: int) -> bool:
    """Five digits followed, to the end of their cell, by a place name in capitals."""
    if not re.fullmatch(r"\d{5}", text):
        return False
    rest = line.original(end, line.segment_of(end)[1])
    return re.fullmatch(r"\s+[A-ZÀ-Ý][A-ZÀ-Ý' -]+(?:\s+CEDEX(?:\s+\d{1,2})?)?\s*", rest) is not None


find_reference = _identifier_finder(need_digit=True)
_find_service_word = _identifier_finder(need_digit=False)
#: The rest of a service code whose underscore OCR read as a space or a dot.
_UNDERSCORE_LOST_RE = re.compile(r"[._]? ([a-z]{3,})(?=\s*(?:\t|$))")


def find_service_code(line: Line, start: int, end: int) -> list[Value]:
    """A code service. Codes hold no spaces: on an OCR'd page, two words in capitals
    alone in their cell ("FACTURES. PUBLIQUES") are one code whose underscore was lost."""
    values = _find_service_word(line, start, end)
    if not values or line.page.source is not FieldSource.OCR:
        return values
    first = values[0]
    word = first.text.rstrip("._")  # "FACTURES_ PUBLIQUES": the underscore, then a gap
    rest = _UNDERSCORE_LOST_RE.match(line.folded, first.end, end)
    if rest is None:
        return values
    second = line.original(*rest.span(1))
    if not (word.isalpha() and word.isupper() and second.isupper()):
        return values
    return [Value(f"{word}_{second}", first.start, rest.end(), first.quality * 0.8)]


# =========================================================================== labels


# n°, N°, No., numéro, num., identifiant; a lone "n" ending its cell, the "°" lost by
# OCR, or read as an apostrophe ("N' de facture").
_N = (
    r"(?:n\s?[°o*]\.?|num(?:ero|\.)?|no\.|identifiant|n(?=\s*(?:\t|:|$))|n'(?= )"
    # "No facture": a bare "No" only before the word it numbers.
    r"|no(?=\s+(?:de\s+|d')?(?:facture|avoir|piece|document|commande|marche|contrat|"
    r"engagement|bon|ej)\b))"
)
_HT = r"h\.?\s?t\.?(?![a-z])"
_TTC = r"t\.?\s?[ti]\.?\s?c\.?(?![a-z])"  # OCR reads TTC as TIC
_TVA = r"t\.?\s?v\.?\s?a\.?(?![a-z])"
#: The piece a total is of: "Total avoir HT", "Montant de l'avoir TTC", "Total facture
#: TTC", "Montant du présent décompte HT".
_OF_PIECE = (
    r"(?:(?:de\s+l'|de\s+la\s+|du\s+|d')?(?:presente?\s+)?"
    r"(?:avoir|facture|piece|decompte|situation)\s+)?"
)
_NOT_AN_INVOICE_REF = (
    r"client|commande|marche|dossier|article|produit|devis|acheteur|bancaire|interne|"
    r"projet|chantier|engagement|ej\b|contrat|affaire|lot\b|de\s+(?:la\s+)?commande"
)

#: A bare "Total": the grand total closing the totals, or the total row of a table
#: (there, each column's header says what its total is).
_BARE_TOTAL = make_label("total_incl_tax", r"(?:^|\t)\s*total\s*:?\s*(?=\t|$|\d)", 0.5)

LABELS: tuple[Label, ...] = (
    # ---- invoice number (the piece's own reference)
    make_label("invoice_number", r"\bnum(?:ero|\.)?\s+(?:de\s+(?:la\s+)?)?facture\b", 0.95),
    make_label("invoice_number", rf"\b{_N}\s*(?:de\s+(?:la\s+)?)?(?:facture\b|fact\b\.?)", 0.95),
    make_label(
        "invoice_number",
        # "Facture du 12/03/2024 n° F-…" names its date before its number.
        rf"\bfact(?:ure|\.)?\s+(?:d'avoir\s+)?(?:du\s+(?:[\d/.]+|\d\d?(?:er)?\s+[a-z]+\s+\d{{4}})\s+)?"
        rf"(?:{_N}|#)",
        0.95,
        not_before=r"(?:sur|de\s+la|origine|la)",
    ),
    # "Objet : Facture – N° : F-…" sets the number apart with a dash.
    make_label(
        "invoice_number",
        rf"\b(?:facture|avoir)\s+[–-]\s+{_N}",
        0.9,
        not_after=rf"(?:de\s+(?:la\s+)?|du\s+|d')?(?:{_NOT_AN_INVOICE_REF}|fact|document|piece)",
    ),
    make_label("invoice_number", rf"\b(?:avoir|note\s+de\s+credit)\s+{_N}", 0.95),
    make_label("invoice_number", rf"\b{_N}\s*(?:de\s+(?:la\s+)?)?note\s+de\s+credit\b", 0.95),
    # A works firm's "mémoire", an architect's fee note: the piece under its own name.
    make_label("invoice_number", rf"\b(?:memoire|note\s+d'honoraires)\s+{_N}", 0.85),
    make_label("invoice_number", rf"\b{_N}\s*(?:de\s+|du\s+)?document\b|\bdocument\s+{_N}", 0.8),
    # The reference after the word: "Pièce réf.", "Facture réf."; inside a line ("Objet :
    # Facture réf. F-…", "notre facture N/Réf. F-…") unless it names another piece's.
    make_label(
        "invoice_number",
        r"(?:^|\t)\s*(?:piece|facture|avoir|document)\s+ref(?:erence)?\b\.?",
        0.85,
    ),
    make_label(
        "invoice_number",
        r"\b(?:facture|avoir)\s+(?:[–-]\s+)?(?:n/\s*)?ref(?:erence)?\b\.?",
        0.8,
        not_before=r"(?:sur|origine|la|de\s+la|total|montant|sous-total|votre|vos)",
    ),
    make_label("invoice_number", rf"\b{_N}\s*(?:de\s+l'|d')?avoir\b", 0.95),
    make_label(
        "invoice_number",
        r"\bdemande\s+de\s+paiement(?:\s+directe?)?(?:\s*[–-]\s*sous-traitant)?\s+" + _N,
        0.85,
    ),
    # A bare "Numéro" / "N°" heading its own cell (a header above the value), or opening
    # a header line ("N° : F-001" under the title).
    make_label(
        "invoice_number",
        r"(?:^|\t)\s*(?:numero|n\s?[°o])\.?\s*:?\s*(?=\t|$)",
        0.6,
        under_title=True,
    ),
    make_label("invoice_number", r"(?:^|\t)\s*(?:numero|n\s?[°o])\.?\s*:", 0.5, under_title=True),
    # « FACTURE | N° 2024/03225 »: the title's number in the next cell, maybe past a speck
    # OCR read as a word (« FACTURE CTU »).
    make_label(
        "invoice_number",
        r"(?<=\t)(?:n\s?[°o]|numero)\.?(?=\s)",
        0.8,
        need_before=r"^\s*(?:facture|avoir|memoire)(?:\s+\S{1,4})?\s*\t",
    ),
    make_label(
        "invoice_number",
        rf"\bprojet\s+de\s+decompte(?:\s+(?:mensuel|final|general))?\s+{_N}",
        0.85,
    ),
    make_label(
        "invoice_number",
        rf"\bdecompte(?:\s+(?:mensuel|final|general(?:\s+(?:et\s+)?definitif)?))?\s+{_N}",
        0.85,
    ),
    make_label("invoice_number", rf"\betat\s+d'acompte(?:\s+(?:mensuel\s+)?valide)?\s+{_N}", 0.7),
    make_label("invoice_number", rf"\b{_N}\s*(?:de\s+|du\s+)?decompte\b", 0.8),
    make_label(
        "invoice_number",
        rf"\b(?:{_N}\s*(?:de\s+(?:la\s+)?)?piece(?:\s+comptable)?|piece(?:\s+comptable)?\s+{_N})",
        0.85,
    ),
    make_label(
        "invoice_number",
        r"\bref(?:erence)?\b\.?\s+(?:du\s+|de\s+(?:la|notre)\s+)?"
        r"(?:facture|piece|document|avoir|decompte)\b",
        0.85,
        not_before=r"(?:vos|votre|v/)",
    ),
    # A bare "Réf." opens its cell; after another word it is that word's reference.
    make_label(
        "invoice_number",
        r"(?:^|\t)\s*(?:n/\s*|notre\s+|nos\s+)?ref(?:erence)?s?\b\.?",
        0.6,
        not_after=_NOT_AN_INVOICE_REF,
    ),
    make_label(
        "invoice_number",
        r"(?:^|\t)\s*(?:facture|avoir|piece)\b(?=\s*:?\s*[a-z]{0,4}[-/]?\d)",
        0.7,
    ),
    make_label(
        "invoice_number",
        r"\b(?:facture|avoir)\b(?= +[a-z]{0,4}[-/]?\d)",
        0.45,
        not_before=r"(?:sur|origine|la|total|montant|sous-total)",
    ),
    # Suppliers from other member states print English.
    make_label("invoice_number", r"\b(?:invoice|credit\s+note)\s+(?:no\.?|number|n°|#)", 0.9),
    make_label(
        "invoice_number",
        r"(?:^|\t)\s*(?:invoice|credit\s+note)\b(?= +[a-z]{0,4}[-/]?\d)",
        0.7,
    ),
    # ---- issue date
    make_label("issue_date", r"\b(?:invoice|issue)\s+date\b|\bdate\s+of\s+issue\b", 0.9),
    make_label(None, r"\b(?:due\s+date|payment\s+due|payable\s+by|date\s+due)\b"),
    make_label(
        "issue_date",
        r"\bdate\s+(?:de\s+(?:la\s+)?)?(?:facture|facturation|piece|d'avoir|de\s+l'avoir)\b",
        0.95,
        not_after=r"associee|d'origine|initiale",
    ),
    make_label("issue_date", r"\bdate\s+d'(?:emission|etablissement|edition)\b", 0.95),
    make_label("issue_date", r"\b(?:emise?|etablie?|editee?|faite?|facturee?)\s+le\b", 0.85),
    make_label("issue_date", r"(?:^|,|\t)\s*le\b(?=\s*:?\s+(?:1er|\d))", 0.8),
    # The title dated: « FACTURE du 27 août 2024 », « DÉCOMPTE GÉNÉRAL du 23/02/2024 ».
    make_label(
        "issue_date",
        r"(?:^|\t)\s*(?:facture|avoir|(?:projet\s+de\s+)?decompte(?:\s+[a-z]+){0,3}|"
        r"etat\s+d'acompte(?:\s+valide)?|demande\s+de\s+paiement(?:\s+direct)?)\s+du\b"
        r"(?=\s+(?:1er|\d))",
        0.8,
    ),
    make_label(
        "issue_date",
        r"\bdu\b(?=\s+(?:1er|\d))",
        0.85,
        # The piece's own number, not another piece's ("avoir sur facture n° … du …").
        need_before=r"(?<!sur )(?<!notre )(?<!votre )(?<!la )(?<!origine )"
        rf"\b(?:facture|avoir|document|piece|memoire)\s+(?:{_N})?\s*[a-z0-9][\w/.-]*",
    ),
    make_label(
        "issue_date",
        r"\bdate\b",
        0.75,
        not_before=r"(?:echeance|livraison|limite|paiement|reglement|commande)",
        not_after=(
            # Not « échéance »: « Date d'échéance » is a longer label of its own, and
            # « Date » | « Échéance » two headers.
            r"(?:de\s+|d'|du\s+|des\s+)?(?:la\s+|l')?(?:livraison|limite|paiement|"
            r"reception|commande|debut|fin|notification|valeur|reglement|prestation|"
            r"execution|expiration|visite|intervention|mise|ordre|signature|facture\s+"
            r"(?:associee|d'origine)|naissance|effet|acceptation|travaux)"
        ),
    ),
    # ---- amounts
    # « TOTALHT »: the word space lost, by OCR or by a tight cell.
    make_label("total_excl_tax", rf"\btotal\s*{_OF_PIECE}(?:general\s+)?(?:net\s+)?{_HT}", 0.95),
    make_label("total_excl_tax", r"\btotal\s+(?:net\s+)?hors\s+taxes?\b", 0.95),
    make_label(
        "total_excl_tax",
        rf"\bmontant\s+{_OF_PIECE}(?:total\s+)?(?:net\s+)?(?:eur\s+|€\s+|en\s+euros\s+)?{_HT}"
        r"(?:\s+(?:de\s+l'|du\s+present\s+|de\s+cet\s+)acompte)?",
        0.85,
    ),
    make_label("total_excl_tax", r"\bmontant\s+(?:total\s+)?hors\s+taxes?\b", 0.85),
    make_label("total_excl_tax", rf"\b(?:total|montant)\s+(?:total\s+)?hors\s+{_TVA}", 0.9),
    make_label("total_excl_tax", rf"\bbase\s+(?:{_HT}|hors\s+taxes?)", 0.8),
    make_label("total_excl_tax", rf"\bsous[- ]total\s+{_HT}", 0.6),
    make_label("total_excl_tax", rf"(?:^|\t)\s*(?:net|montant\s+net)\s+{_HT}", 0.85),
    make_label(
        "total_excl_tax",
        rf"\bmontant\s+(?:de\s+l'|du\s+present\s+|de\s+cet\s+)acompte\s+{_HT}",
        0.9,
    ),
    make_label(
        "total_excl_tax",
        r"\b(?:montant\s+des\s+)?travaux\s+(?:executes\s+)?(?:du|ce)\s+mois\b",
        0.55,
    ),
    # A final décompte's total: « Montant des travaux réalisés HT ».
    make_label(
        "total_excl_tax",
        rf"\bmontant\s+(?:total\s+)?des\s+travaux\s+(?:realises\s+|executes\s+)?{_HT}",
        0.8,
    ),
    make_label(
        "total_excl_tax",
        r"\bnet\s+total\b|\btotal\s+(?:net\s+amount|excl(?:uding)?\.?\s+(?:vat|tax)|"
        r"without\s+(?:vat|tax)|before\s+tax)\b",
        0.85,
    ),
    make_label("total_excl_tax", r"\bnet\s+amount\b", 0.8),
    make_label("total_excl_tax", r"\bsub-?total\b", 0.55),
    make_label("total_incl_tax", r"\bgross\s+amount\b", 0.85),
    make_label("total_tax", rf"\b(?:total\s*|montant\s+)(?:de\s+la\s+)?{_TVA}", 0.95),
    make_label("total_tax", r"\b(?:tax|vat)\s+(?:total|amount)\b|\btotal\s+(?:tax|vat)\b", 0.85),
    # "TVA 20 %", "TVA (5,5 %)", "TVA à 10 %": a VAT line of the totals.
    make_label(
        "total_tax",
        rf"\b{_TVA}\s*(?:collectee\s+|facturee\s+|due\s+|totale\s+)?"
        r"(?:au\s+taux\s+(?:normal\s+|reduit\s+|intermediaire\s+)?(?:de\s+)?|a\s+)?"
        r"\(?\s*\d{1,2}(?:[,.]\d{1,2})?\s*%\s*\)?",
        0.9,
        not_before=r"(?:taux(?:\s+de)?|base|hors)",
    ),
    make_label(
        "total_tax",
        r"\b(?:total\s+(?:des\s+)?)?taxes\b",
        0.8,
        not_before=r"(?:toutes|hors|sans)",
        not_after=r"comprises|incluses",
    ),
    make_label(
        "total_tax",
        rf"\b{_TVA}",
        0.8,
        # Nor a mention in brackets: « Réfection de logement (TVA réduite) ».
        not_before=r"(?:n\s?[°o*]\.?|numero|identifiant|code|taux(?:\s+de)?|regime(?:\s+de)?|"
        r"assujetti\s+a\s+la|hors|base|soumis\s+a\s+la|sans|\()",
        not_after=r"intra|n\s?[°o*]|non\s+applicable|sur\s+les|acquittee|autoliquid|fr\s?\d|"
        r"due\s+par|incluse|comprise|\(?\s*taux\s*\)?\s*$",
    ),
    make_label(
        "total_incl_tax",
        rf"\b(?:total\s*|montant\s+)(?:total\s+|{_OF_PIECE})?(?:general\s+)?"
        rf"(?:net\s+)?(?:eur\s+|€\s+)?{_TTC}",
        0.95,
    ),
    make_label("total_incl_tax", r"\b(?:total|montant)\s+toutes\s+taxes\s+comprises\b", 0.95),
    # « Total à payer TTC »: the TTC; the net is then worded apart, or is the TTC itself
    # when nothing is deducted (``_settle_due``).
    make_label(
        "total_incl_tax", rf"\b(?:total|montant|somme)\s+a\s+(?:payer|regler)\s+{_TTC}", 0.8
    ),
    make_label("total_incl_tax", rf"(?:^|\t)\s*(?:total\s+)?net\s+{_TTC}", 0.85),
    make_label(
        "total_incl_tax",
        rf"\bmontant\s+(?:de\s+l'|du\s+present\s+|de\s+cet\s+)acompte\s+{_TTC}",
        0.9,
    ),
    make_label(
        "total_incl_tax",
        r"\btotal\s+(?:incl(?:uding)?\.?\s+(?:vat|tax(?:es)?)|with\s+vat)\b",
        0.9,
    ),
    # A compact totals box names its rows by the bare abbreviation: "HT", "TVA", "TTC".
    make_label("total_excl_tax", rf"(?:^|\t)\s*{_HT}\s*:?\s*(?=\t|$)", 0.7),
    make_label("total_incl_tax", rf"(?:^|\t)\s*{_TTC}\s*:?\s*(?=\t|$)", 0.7),
    # A bare "Total" closing the totals, as English layouts print the grand total.
    _BARE_TOTAL,
    make_label("amount_due", r"\bnet\s+a\s+(?:payer|regler)\b", 0.95),
    make_label("amount_due", r"\b(?:amount|balance|total)\s+(?:due|to\s+pay)\b|\bresidual\b", 0.85),
    # Not « reste à mandater »: in public accounting, what is left of the contract.
    make_label("amount_due", r"\b(?:net|somme|montant)\s+a\s+mandater\b", 0.95),
    make_label("amount_due", r"\bnet\s+a\s+percevoir\b", 0.9),
    # What a credit note gives back.
    make_label("amount_due", r"\b(?:montant|net|total)\s+a\s+rembourser\b", 0.85),
    make_label("amount_due", r"\breste\s+a\s+(?:payer|regler)\b", 0.9),
    make_label("amount_due", r"\bmontant\s+(?:net\s+)?a\s+(?:payer|regler|mandater)\b", 0.9),
    make_label("amount_due", r"\b(?:somme|total|solde)\s+a\s+(?:payer|regler)\b", 0.85),
    make_label("amount_due", r"\bacompte\s+a\s+(?:payer|regler|mandater)\b", 0.8),
    make_label(
        "amount_due",
        r"\b(?:montant|solde|reste|total|net)\s+(?:restant\s+)?du\b"
        r"(?=\s*(?:[:\t(–.-]|$|ttc|au\s+titre\b))",
        0.85,
    ),
    make_label("amount_due", r"\bsomme\s+due\b|\btotal\s+net\s+a\s+payer\b", 0.9),
    make_label("amount_due", r"(?:^|\t)\s*a\s+payer\b", 0.75),
    # A décompte's last row: « Solde », « Solde TTC », « Solde du marché », « Solde en
    # faveur de l'entreprise » (CCAG Travaux: the balance owed to the titulaire).
    make_label(
        "amount_due",
        r"(?:^|\t)\s*solde(?:\s+(?:net|general|final|definitif|du\s+marche|du\s+decompte))?"
        rf"(?:\s+{_TTC})?\s*:?\s*(?=\t|$)",
        0.8,
    ),
    make_label(
        "amount_due",
        r"\bsolde\s+(?:net\s+)?(?:en\s+faveur|au\s+profit|revenant)\s+(?:de\s+l'|du\s+|a\s+l')"
        r"(?:entreprise|titulaire|entrepreneur)\b",
        0.85,
    ),
    make_label(
        "amount_due",
        r"\bmontant\s+(?:net\s+)?(?:de\s+l'|du\s+present\s+|de\s+cet\s+)acompte\b",
        0.7,
        not_after=rf"{_HT}|{_TTC}|{_TVA}",
    ),
    # ---- parties and references
    # OCR drops or misreads the i of a small-print "Siret" ("Sret", "S1ret").
    # « Siret n° », « Siret No », « SIRET établissement »: the qualifier is the label's.
    make_label(
        "siret",
        rf"\b(?:{_N} *)?s[i1l|]?ret\b(?:\s+(?:n\s?[°o]\b\.?|no\b\.?|(?:de\s+l')?etablissement\b))?",
        0.95,
    ),
    make_label(
        "vat",
        r"\b(?:(?:n\s?[°o*]\.?|numero|identifiant|id\.?|code)\s*(?:de\s+)?)?"
        r"(?:tva|t\.v\.a\.)\s*(?:intra[- ]?(?:communautaire|com\.?)?)",
        0.95,
    ),
    make_label(
        "vat",
        r"\b(?:n\s?[°o*]\.?|numero|identifiant)\s*(?:de\s+|d')?(?:tva|identification)"
        r"\b",
        0.9,
    ),
    make_label("vat", r"\bvat(?:\s+(?:number|id|no\.?))?\b", 0.8),
    # "N° intracommunautaire", "Identifiant intracom.": the VAT number without "TVA".
    make_label(
        "vat",
        rf"\b(?:(?:{_N}|id\.?)\s*)?intra[- ]?(?:communautaire|com\b\.?)",
        0.85,
        not_before=r"tva|t\.v\.a\.",
    ),
    make_label("vat", r"\btva\b(?=\s*:?\s*fr\s?[0-9a-z]{2}\s?\d)", 0.85),
    make_label(
        "service_code",
        r"\bcode\s+(?:du\s+)?service(?:\s+executant)?(?:\s+\(?chorus(?:\s+pro)?\)?)?(?!\w)",
        0.9,
    ),
    make_label("service_code", r"\bservice\s+executant\b", 0.85),
    make_label("service_code", r"\b(?:buyer\s+)?service\s+code\b", 0.85),
    # Chorus Pro's own shorthand: the "SE" is the service exécutant.
    make_label(
        "service_code", r"\bcode\s+(?:se|serv\.)(?:\s+(?:destinataire|executant))?(?![\w.])", 0.8
    ),
    make_label("service_code", r"\ba\s+l'attention\s+du\s+service\b", 0.7),
    make_label("service_code", r"\bservice\s+destinataire\b(?:\s+\(code\))?", 0.85),
    make_label("service_code", r"\bservice\s+(?:a\s+facturer|facture)\b", 0.8),
    make_label("service_code", r"\bcode\s+(?:de\s+)?routage\b|\bcode_routage\b", 0.8),
    make_label("service_code", r"\bidentifiant\s+(?:du\s+)?service\b", 0.85),
    make_label("service_code", r"\bref(?:erence)?\.?\s+(?:du\s+)?service\b", 0.75),
    make_label(
        "service_code",
        r"\bservice\s+(?:gestionnaire|ordonnateur|prescripteur|beneficiaire|demandeur)\b",
        0.7,
    ),
    # An item of a list of references ("…, service ST-VOIRIE", "– Service SE-042"): a
    # bare « service » right before something shaped like a code.
    make_label(
        "service_code",
        r"(?:^|[,;|–—\t]|\s-)\s*service\b(?=\s+[a-z0-9]+(?:[-_][a-z0-9]+)+\b)",
        0.55,
    ),
    # "Service" alone heading its cell or followed by a colon: the code is next to it.
    make_label("service_code", r"(?:^|\t)\s*service\s*(?::|(?=\t|$))", 0.6),
    make_label(
        "service_code", r"\bservice\s*:", 0.55, not_before=r"(?:mise\s+en|de|du|des|au|en|hors)"
    ),
    make_label(
        "engagement_number",
        rf"\b(?:{_N}\s*(?:d'|de\s+l')?)?engagement(?:\s+juridique)?\b",
        0.92,
    ),
    make_label("engagement_number", rf"\b(?:{_N}\s*)?ej\b", 0.92),
    # OCR reads the J of a small « N° EJ » as a bracket: « N° E) », « N°E] », « N° E]j ».
    make_label("engagement_number", rf"\b{_N}\s*e[)\]|]j?(?=\s*:|\s|$)", 0.8),
    make_label("engagement_number", r"\bref(?:erence)?\.?\s*e(?:j|[)\]|]j?)(?=\s*:|\s|$)", 0.85),
    make_label("engagement_number", rf"\bbon\s+de\s+commande\b(?:\s*{_N})?", 0.75),
    make_label(
        "engagement_number",
        rf"\b{_N}\s*(?:de\s+|du\s+)?(?:bon\s+de\s+)?commande(?:\s+(?:publique|client))?\b",
        0.75,
    ),
    make_label("engagement_number", rf"\bcommande\s+{_N}", 0.75),
    make_label("engagement_number", rf"\b(?:{_N}\s*(?:de\s+)?bd?c|bd?c\s+{_N})(?![\w/-])", 0.75),
    make_label("engagement_number", r"\bpurchase\s+order(?:\s+(?:no\.?|number|n°|#))?", 0.85),
    make_label("engagement_number", r"\b(?:po|order)\s+(?:number|no\.?|n°|#)", 0.8),
    make_label(
        "engagement_number",
        r"\bref(?:erence)?s?\b\.?\s+(?:de\s+(?:la\s+)?|du\s+)?(?:bon\s+de\s+)?commande\b",
        0.75,
    ),
    make_label(
        "engagement_number",
        r"\b(?:(?:votre|vos)\s+(?:commande|ref(?:erence)?s?\b\.?)|v/\s*ref(?:erence)?s?\b\.?)",
        0.4,
    ),
    make_label("engagement_number", rf"\b(?:votre|vos)\s+(?:bon\s+de\s+)?commande\s+{_N}", 0.8),
    make_label(
        "contract_number",
        rf"\bmarche\s+(?:public\s+)?(?:de\s+(?:travaux|services|fournitures)\s+)?{_N}",
        0.9,
    ),
    make_label("contract_number", rf"\b{_N}\s*(?:de\s+|du\s+)?marche(?:\s+public)?\b", 0.9),
    # A contract named by its form: longer than the order-number wording inside it.
    make_label(
        "contract_number",
        rf"\bmarche\s+a\s+bons\s+de\s+commande(?:\s+{_N})?",
        0.85,
    ),
    make_label("contract_number", r"\bref(?:erence)?s?\.?\s+(?:du\s+)?marche\b", 0.85),
    # A contract named by its procedure: « MAPA n° », « Procédure adaptée n° ».
    make_label("contract_number", rf"\b(?:mapa|procedure\s+adaptee)\s+{_N}", 0.8),
    make_label("contract_number", rf"\b(?:contrat\s+{_N}|{_N}\s*(?:de\s+|du\s+)?contrat)", 0.8),
    make_label("contract_number", r"\bmarche\s*:", 0.7),
    make_label(
        "contract_number", rf"\b(?:convention\s+{_N}|{_N}\s*(?:de\s+(?:la\s+)?)?convention\b)", 0.8
    ),
    # "… – marché M24-0012", "au titre du contrat 2023-MT-118": a bare « marché » or
    # « contrat » before something shaped like a reference (letters and digits, or digits
    # cut by a dash or a slash), never before an amount or a date.
    make_label(
        "contract_number",
        r"\b(?:marche(?:\s+public)?|contrat)\b"
        r"(?=\s+(?!\d{1,2}[/.-]\d{1,2}[/.-]\d)(?:[a-z]{1,5}[-/ ]?\d|\d{2,4}[-/]\w))",
        0.6,
        not_before=r"(?:montant|total|date|objet|avenant)\s+(?:du|de\s+la)",
    ),
    make_label("contract_number", r"\bcontrat\s*:", 0.7),
    make_label("contract_number", r"\bcontract\s+(?:number|no\.?|n°|#|ref(?:erence)?\b\.?)", 0.85),
    # A header cell above its value: "Marché public", "Contrat", "N° contrat".
    make_label(
        "contract_number",
        r"(?:^|\t)\s*(?:marche\s+public(?:\s+de\s+(?:travaux|services|fournitures))?|contrat|"
        rf"{_N}\s*(?:de\s+|du\s+)?contrat)\s*:?\s*(?=\t|$)",
        0.75,
    ),
    # Other wordings of the contract reference on public invoices.
    make_label(
        "contract_number",
        rf"\b(?:{_N}\s*(?:de\s+l'|d'|du\s+)?)?(?:accord|contrat)[- ]cadre(?:\s+{_N})?|"
        rf"\bmarche\s+subsequent(?:\s+{_N})?",
        0.85,
    ),
    make_label(
        "contract_number",
        r"\bmarche\s+public(?:\s+de\s+(?:travaux|services|fournitures))?\s*:|"
        r"\bref(?:erence)?s?\.?\s+(?:du\s+)?contrat\b",
        0.8,
    ),
    make_label("contract_number", r"\bnumero\s+(?:de\s+|du\s+)?(?:marche|contrat)\b", 0.9),
    make_label("contract_number", r"(?:^|\t)\s*marche\s*(?=\t|$)", 0.7),
    make_label("iban", r"\biban\b", 0.95),
    make_label("iban", r"\bcoordonnees\s+bancaires\b|\bcompte\s+(?:bancaire|a\s+crediter)\b", 0.8),
    # ---- distractors: labels of other numbers, so no value is taken across them
    make_label(None, rf"\b(?:acompte|situation|devis|lot|tranche|dossier|affaire|client)\s+{_N}"),
    make_label(
        None,
        rf"\b{_N}\s*(?:de\s+|du\s+)?(?:devis|client|dossier|lot|affaire|"
        rf"situation|acompte|compte|ligne|chantier)\b",
    ),
    make_label(None, rf"\bbon\s+de\s+livraison\b(?:\s*{_N})?"),
    # Other references heading their cell: a quote, a customer number, a delivery point.
    make_label(
        None,
        r"(?:^|\t)\s*(?:(?:devis|ref(?:erence)?\.?\s+client|code\s+client|"
        r"point\s+de\s+comptage)\b|point\s+de\s+livraison(?:\s+\(pdl\))?|"
        # Not a bare « PCE », which may be a logo's initials.
        r"(?:pdl|pce)\s*(?=n°|:))\s*(?:n°)?\s*:?\s*(?=\t|$)",
    ),
    make_label(
        None,
        r"\bfacture\s+(?:d'origine|initiale|associee|rectifiee|annulee|liee|precedente)\b"
        rf"(?:\s*{_N})?",
    ),
    make_label(None, rf"\bavoir\s+sur\s+(?:la\s+)?facture\b(?:\s*{_N})?"),
    make_label(None, r"\b(?:date +(?:d'|de +)?)?echeance\b|\bdate\s+limite\b"),
    # The due date by its other wordings: « Date d'exigibilité », « À payer avant le »,
    # « Payable le », « Règlement au » (longer than the « à payer » of the net to pay).
    make_label(
        None,
        r"\bdate\s+d'exigibilite\b|\bexigible\s+le\b|"
        r"\b(?:a\s+(?:payer|regler)|payable|paiement)\s+(?:avant|au\s+plus\s+tard)\s+le\b|"
        r"\bpayable\s+le\b|\b(?:reglement|paiement)\s+(?:au|le)\b(?=\s*:?\s*(?:\t|$|1er|\d))",
    ),
    make_label(None, r"\bdate\s+de\s+(?:livraison|commande|debut|fin|reception)\b"),
    # Another event's date: « Notifié le », « Signé le » (maybe wrapped before « le »).
    make_label(
        None,
        r"\b(?:notifiee?|signee?|livree?s?|receptionnee?s?|acceptee?|commandee?|payee?|"
        r"reglee?|recue?|commencee?s?|terminee?s?|achevee?s?|visee?)\s+le\b",
    ),
    make_label(None, r"\b(?:periode|du)\b(?=\s+\d{1,2}\s?[/.-]\d{1,2}[/.-]\d{2,4}\s+au\b)"),
    make_label(
        None,
        r"\b(?:siren|rcs|r\.c\.s\.|capital|ape|naf|tel|tel\.|telephone|fax|"
        r"portable|mobile|bic|swift|cedex)\b",
    ),
    make_label(None, r"\btaux\b|\bquantite\b|\bqte\b|\bp\.?u\.?\b|\bprix\s+unitaire\b"),
    make_label(None, r"\bcumul\w*\b|\bprecedent\w*\b|\banterieur\w*\b"),
    make_label(
        None,
        r"\bret(?:enue|\.)?\s+(?:de\s+)?garantie\b|\brg\b(?=\s*\d)|"
        r"\bavance\b|\bacomptes?\b(?=\s+(?:deja|a\s+la\s+commande|recu|percu|verse|encaisse))|"
        r"\brevision\s+des\s+prix\b",
    ),
)


# =========================================================================== document


def build_doc(pages: Sequence[Page]) -> Doc:
    lines = tuple(
        line for page in sorted(pages, key=lambda p: p.number) for line in group_lines(page)
    )
    hits = [_line_hits(line, i) for i, line in enumerate(lines)]
    _join_wrapped_labels(lines, hits)
    _drop_labels_wrapped_from_prose(lines, hits)
    _label_generic_cells_under_headings(lines, hits)
    return Doc(lines=lines, hits=tuple(hits))


def _label_matches(text: str) -> Iterable[tuple[Label, int, int]]:
    """Every label wording in ``text`` whose surroundings allow it."""
    for label in LABELS:
        for match in label.pattern.finditer(text):
            if match.end() == match.start():
                continue
            before = text[max(0, match.start() - 40) : match.start()]
            after = text[match.end() : match.end() + 40]
            # A word of the cell before qualifies nothing here ("Base" | "TVA" head two
            # columns of a VAT summary).
            if label.not_before and label.not_before.search(before.rpartition("\t")[2]):
                continue
            if label.not_after and label.not_after.search(after):
                continue
            if label.need_before and not label.need_before.search(before):
                continue
            yield label, match.start(), match.end()


#: An English gloss after a French label on a bilingual form ("N° facture / Invoice
#: no.", "Marché / Contract"): read as blank, and as part of the label it follows. It
#: holds a word French does not use, so that "N° / Date" keeps its second label.
_ENGLISH_WORDS = (
    r"invoice|credit|contract|purchase|order|issue|of|number|amount|vat|tax|excl|incl|"
    r"excluding|including|due|to|pay|payable|balance|supplier|customer|buyer|bank|account"
)
_GLOSS_WORD = (
    rf"(?:{_ENGLISH_WORDS}|note|service|code|date|reference|ref|no|n°|#|id|total|net)\b\.? ?"
)
_GLOSS_RE = re.compile(
    rf" / ?(?=(?:{_GLOSS_WORD}){{0,3}}(?:{_ENGLISH_WORDS})\b)(?:{_GLOSS_WORD}){{1,4}}:?"
    # The platform named after a label: "N° EJ Chorus", "Code SE (Chorus Pro)".
    r"| \(?(?:chorus(?: pro)?|cpp)\)?(?=\s*(?::|n°|\t|$))"
)


#: Dotted leaders between a label and its value ("Contrat ........ : M24-0012"), as
#: listings and forms print them; not the three dots of a text cut short ("sur 134 36…",
#: "Service destinata...").
_LEADER_RE = re.compile(r"(?:\. ?){4,}|(?<= )\.{3}|…{2,}")


def _for_label_matching(folded: str) -> tuple[str, list[tuple[int, int]]]:
    """The folded text labels are matched in, same length: glosses blanked, dotted leaders
    read as column breaks. Also where the glosses were."""
    glosses = [m.span() for m in _GLOSS_RE.finditer(folded)]
    for start, end in glosses:
        folded = folded[:start] + " " * (end - start) + folded[end:]
    # A leader is a column break for the labels: the label ends its cell.
    folded = _LEADER_RE.sub(lambda m: "\t" * len(m.group()), folded)
    return folded, glosses


def _label_words() -> dict[int, frozenset[str]]:
    """The long words of the label wordings, by length (``_with_label_words_repaired``)."""
    words = {w for label in LABELS for w in re.findall(r"\b[a-z]{7,}", label.pattern.pattern)}
    return {n: frozenset(w for w in words if len(w) == n) for n in {len(w) for w in words}}


_LABEL_WORDS = _label_words()


#: A cell rule read as a character between the words of a total's label ("Montant 1 HT",
#: "Total | TTC"): blanked, positions kept.
_STRAY_MARK_RE = re.compile(rf"(\b(?:montant|total) )[1li|!] (?={_HT}|{_TTC}|{_TVA})")


#: An abbreviation's period read as a comma (« Réf, commande »): read as the period.
_ABBREVIATION_COMMA_RE = re.compile(r"\b(refs?|num|fact|cde|cmde|tel),(?= )")


def _with_label_words_repaired(text: str) -> str:
    """An OCR'd word one letter away from exactly one label word is read as it ("N° du
    docusent"), so that the label is found. Same length only: positions do not move."""
    for match in re.finditer(r"[a-z]{7,}", text):
        word = match.group()
        known = _LABEL_WORDS.get(len(word), frozenset())
        if word in known:
            continue
        near = [k for k in known if sum(a != b for a, b in zip(k, word, strict=True)) == 1]
        if len(near) == 1:
            text = text[: match.start()] + near[0] + text[match.end() :]
    return text


_TRUNCATED_RE = re.compile(r"\b([a-z]{4,})(?:\.\.\.|…)")


def _with_truncated_words_completed(text: str) -> tuple[str, list[tuple[int, int, int]]]:
    """A label cut short by the layout ("Code service destinata…"): its last word is
    completed when exactly one label word starts with it. Also the edits made, as
    (start, end in ``text``, length of the completion), to map positions back."""
    edits: list[tuple[int, int, int]] = []
    parts: list[str] = []
    last = 0
    for match in _TRUNCATED_RE.finditer(text):
        prefix = match.group(1)
        words = sorted(w for ws in _LABEL_WORDS.values() for w in ws if w.startswith(prefix))
        if words and all(w.startswith(words[0]) for w in words):
            words = words[:1]  # "commande", not its inflections ("commandee")
        if len(words) == 1 and words[0] != prefix:
            parts += [text[last : match.start()], words[0]]
            edits.append((match.start(), match.end(), len(words[0])))
            last = match.end()
    return "".join(parts) + text[last:], edits


def _original_position(position: int, edits: list[tuple[int, int, int]]) -> int:
    shift = 0
    for start, end, length in edits:
        if position <= start + shift:
            break
        if position < start + shift + length:
            return end  # inside a completed word: its end, past the ellipsis
        shift += length - (end - start)
    return position - shift


def _line_hits(line: Line, index: int) -> tuple[Hit, ...]:
    folded = line.folded
    if line.page.source is FieldSource.OCR:
        folded = _STRAY_MARK_RE.sub(r"\1  ", folded)
        folded = _with_label_words_repaired(_ABBREVIATION_COMMA_RE.sub(r"\1.", folded))
    folded, edits = _with_truncated_words_completed(folded)
    text, glosses = _for_label_matching(folded)
    # Overlapping wordings: the longer one is the more specific ("état d'acompte n°" over
    # "acompte n°", "total HT" over "HT"); at equal length, a field label over a distractor.
    # Trailing blanks and a colon add nothing to a wording ("marché\t:" vs "n° marché").
    wording_length: dict[Hit, int] = {}
    for label, start, end in _label_matches(text):
        hit = Hit(
            label,
            index,
            _original_position(start, edits),
            _original_position(_past_gloss(text, end, glosses), edits),
        )
        wording_length[hit] = len(text[start:end].rstrip(" \t:"))
    hits = [hit for hit in wording_length if not _spans_a_column_gap(line, hit)]
    found = []
    for hit in hits:
        if not _spans_into_another_label(line, hit, hits):
            found.append(hit)
            continue
        # "Bon de commande" | "N° marché": the wording without what it took of the next
        # cell, when that is a wording too.
        border = -1 if edits else text.find("\t", hit.start, hit.end)
        head = text[hit.start : border].rstrip()
        if border > 0 and head and hit.label.pattern.fullmatch(head):
            short = Hit(hit.label, index, hit.start, hit.start + len(head))
            found.append(short)
            wording_length[short] = len(head)
        elif border > 0 and not edits:
            # « N° » | « EJ »: a gap set the label's first word apart, and that word is
            # another label; what follows the gap is still this one's wording.
            tail_start = border + len(text[border : hit.end]) - len(text[border : hit.end].lstrip())
            tail = text[tail_start : hit.end]
            if tail and hit.label.pattern.fullmatch(tail):
                short = Hit(hit.label, index, tail_start, hit.end)
                found.append(short)
                wording_length[short] = len(tail.rstrip(" \t:"))
    found.sort(key=lambda h: (-wording_length[h], h.field is None, -h.label.weight))
    kept: list[Hit] = []
    for hit in found:
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    return tuple(sorted(kept, key=lambda h: h.start))


def _spans_a_column_gap(line: Line, hit: Hit) -> bool:
    """The wording runs across the gap between two columns (« ACCORD-CADRE N° » |
    « COMMANDE DU » read « N | COMMANDE »): the words on either side belong to two cells,
    not to one label. A gap a few letters wide is OCR's or a layout's between words."""
    cells = [(s, e) for s, e in line.segments if s < hit.end and e > hit.start]
    for (_, left_end), (right_start, _) in itertools.pairwise(cells):
        left_x1 = line.box(max(hit.start, left_end - 1), left_end)[2]
        right_x0 = line.box(right_start, min(hit.end, right_start + 1))[0]
        if right_x0 - left_x1 > _LABEL_GAP * line.height:
            return True
    return False


#: The widest gap inside one label, in line heights.
_LABEL_GAP = 8.0


def _past_gloss(text: str, end: int, glosses: list[tuple[int, int]]) -> int:
    """The end of a label, moved over the gloss that follows it."""
    for start, gloss_end in glosses:
        if start >= end and not text[end:start].strip():
            return gloss_end
    return end


#: A cell ending on one of these words goes on on the next line ("Numéro de" | "marché").
_DANGLING_END_RE = re.compile(r"(?:\b(?:de|du|des|d'|la|le|l'|a|au|en|et)|[-/'])\s*$")


def _join_wrapped_labels(lines: Sequence[Line], hits: list[tuple[Hit, ...]]) -> None:
    """Labels wrapped over two lines of a narrow cell ("Montant total" over "HT",
    "Numéro de" over "marché"): a wording that runs from the end of a cell into the cell
    printed right under it, aligned with it, becomes a hit on both lines, so that the
    value is found beside either line or under the second. Two labels stacked in a
    column ("Date" over "Facture n°") are not one: a wording is joined only where the
    lower cell holds no other field's label, nor the upper one unless it dangles."""
    for i, line in enumerate(lines):
        for j in range(i + 1, min(i + 3, len(lines))):
            below = lines[j]
            if below.page is not line.page:
                break
            if below.top - line.bottom > 0.6 * line.height:
                break
            if not 0.75 * line.height <= below.height <= 1.34 * line.height:
                continue
            for upper in line.segments:
                lower = _cell_aligned_under(line, upper, below)
                if lower is not None:
                    _join_cells(lines, hits, (i, upper), (j, lower))


def _drop_labels_wrapped_from_prose(lines: Sequence[Line], hits: list[tuple[Hit, ...]]) -> None:
    """A label opening a line of running text that the line above wraps into it: « … ·
    Notifié » over « le : 15/01/2024 » is the notification's date, not the piece's. The
    hit goes when the last word above, joined to it, makes another (longer) wording."""
    for i in range(1, len(lines)):
        line, above = lines[i], lines[i - 1]
        first = hits[i][0] if hits[i] else None
        if first is None or first.field is None or line.folded[: first.start].strip():
            continue
        if above.page is not line.page or line.top - above.bottom > 0.6 * line.height:
            continue
        if len(above.segments) != 1 or abs(above.x0 - line.x0) > 3:
            continue
        word = re.search(r"([a-z']+)\s*$", above.folded)
        if word is None:
            continue
        joined = f"{word.group(1)} {line.folded[first.start : first.end]}"
        offset = len(word.group(1)) + 1
        if any(
            start < offset and end >= len(joined.rstrip(" \t:")) and label.field != first.field
            for label, start, end in _label_matches(joined)
        ):
            hits[i] = hits[i][1:]


def _cell_aligned_under(line: Line, cell: tuple[int, int], below: Line) -> tuple[int, int] | None:
    """The cell of ``below`` set left-, centre- or right-aligned under ``cell``."""
    x0, _, x1, _ = line.box(*cell)
    for other in below.segments:
        ox0, _, ox1, _ = below.box(*other)
        if abs(ox0 - x0) <= 3 or abs(ox1 - x1) <= 3 or abs((ox0 + ox1 - x0 - x1) / 2) <= 3:
            return other
    return None


def _join_cells(
    lines: Sequence[Line],
    hits: list[tuple[Hit, ...]],
    upper: tuple[int, tuple[int, int]],
    lower: tuple[int, tuple[int, int]],
) -> None:
    (i, (u_start, u_end)), (j, (d_start, d_end)) = upper, lower
    top_text = lines[i].folded[u_start:u_end].rstrip()
    bottom_text = lines[j].folded[d_start:d_end]
    if re.match(r"\s*[-+(]?\d", bottom_text) or top_text[-1:].isdigit():
        return  # rows of figures (most aligned cells of a table): no wording runs on
    hyphenated = re.search(r"[a-z]-$", top_text) is not None
    joined = (top_text[:-1] if hyphenated else top_text + " ") + bottom_text
    seam = len(joined) - len(bottom_text)
    dangling = _DANGLING_END_RE.search(top_text) is not None
    best: tuple[Label, int, int] | None = None
    for label, start, end in _label_matches(joined):
        crosses_seam = start < seam - (not hyphenated) and end > seam
        if label.field is None or not crosses_seam:
            continue
        if best is None or end - start > best[2] - best[1]:
            best = (label, start, end)
    if best is None:
        return
    label, start, end = best
    top_span = (u_start + start, u_start + len(top_text))
    bottom_span = (d_start, d_start + end - seam)
    for index, (span_start, span_end), may_override in (
        (i, top_span, dangling),
        (j, bottom_span, False),
    ):
        for hit in hits[index]:
            if hit.start < span_end and hit.end > span_start:
                if hit.field != label.field and not may_override:
                    return  # a label of its own: two stacked labels, not one wrapped
                if hit.field == label.field and hit.label.weight > label.weight:
                    return  # the line alone says more
    for index, (span_start, span_end) in ((i, top_span), (j, bottom_span)):
        kept = [h for h in hits[index] if h.end <= span_start or h.start >= span_end]
        kept.append(Hit(label, index, span_start, span_end))
        hits[index] = tuple(sorted(kept, key=lambda h: h.start))


#: A cell naming no object ("N° :", "Référence", "Code"), its value beside or under it.
_GENERIC_CELL_RE = re.compile(
    r"\s*(?:numero|n\s?[°o*]|no\.|ref(?:erence)?s?\b\.?|identifiant|id\b\.?|code)\s*:?\s*"
    r"(?=$|[a-z]{0,6}[-/_. ]?\d)"
)
#: Section headings that say whose number the generic cells under them hold.
_SECTION_HEADINGS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "contract_number",
        re.compile(
            r"\s*(?:(?:le\s+|references?\s+(?:du\s+)?|identification\s+du\s+)?marche"
            r"(?:\s+public)?(?:\s+de\s+(?:travaux|services|fournitures))?|(?:le\s+)?contrat|"
            r"(?:l')?accord[- ]cadre)\s*:?\s*$"
        ),
    ),
    (
        "engagement_number",
        re.compile(
            r"\s*(?:engagement(?:\s+juridique)?|(?:bon\s+de\s+)?commande|"
            r"references?\s+(?:de\s+(?:la\s+)?)?commande)\s*:?\s*$"
        ),
    ),
    ("service_code", re.compile(r"\s*service(?:\s+(?:destinataire|executant))?\s*:?\s*$")),
)
_SECTION_LABELS = {
    field: Label(field=field, pattern=pattern, weight=0.75) for field, pattern in _SECTION_HEADINGS
}


def _label_generic_cells_under_headings(lines: Sequence[Line], hits: list[tuple[Hit, ...]]) -> None:
    """A generic cell ("N° :", "Référence") in a block headed « MARCHÉ », « Engagement
    juridique » or « Service destinataire » labels that object's number: the heading
    names it once for the lines of the block (number, lot, notification date)."""
    for i, line in enumerate(lines):
        for start, end in line.segments:
            match = _GENERIC_CELL_RE.match(line.folded, start, end)
            if match is None or match.end() == start:
                continue
            span = (start, start + len(match.group().rstrip()))
            overlapping = [h for h in hits[i] if h.start < span[1] and h.end > span[0]]
            if any(h.field != "invoice_number" or h.label.weight > 0.6 for h in overlapping):
                continue  # a label of its own
            field = _section_heading_above(lines, i, line.box(start, end))
            if field is None:
                continue
            kept = [h for h in hits[i] if h not in overlapping]
            kept.append(Hit(_SECTION_LABELS[field], i, *span))
            hits[i] = tuple(sorted(kept, key=lambda h: h.start))


def _section_heading_above(
    lines: Sequence[Line], index: int, box: tuple[float, float, float, float]
) -> str | None:
    """The field named by the nearest heading cell above, in the cell's column, within
    the few lines of a block."""
    x0, _, x1, _ = box
    for above in range(index - 1, max(-1, index - 5), -1):
        line = lines[above]
        if line.page is not lines[index].page:
            return None
        for start, end in line.segments:
            hx0, _, hx1, _ = line.box(start, end)
            if not (abs(hx0 - x0) < 20 or (hx1 > x0 and hx0 < x1)):
                continue
            if _TITLE_CELL_RE.match(line.folded, start, end):
                return None  # the piece's own block: its number is the piece's
            if line.folded.startswith(":", end + 1):
                continue  # a label whose value is set apart ("Service<tab>: ST-04")
            for field, heading in _SECTION_HEADINGS:
                if heading.match(line.folded, start, end):
                    return field
    return None


def _spans_into_another_label(line: Line, hit: Hit, hits: list[Hit]) -> bool:
    """A label running across a cell border into another field's label: "Marché public"
    | "N° EJ" is not "Marché public N°", nor "Contrat n°" | "Commande du" a "n°
    commande" (the other label held in one cell). A wide gap inside one label, "Émise" |
    "le", still counts: the words after the border are no other label."""
    text = line.folded[hit.start : hit.end]
    border = text.find("\t", len(text) - len(text.lstrip()))
    if border < 0 or not text[border:].strip():
        return False
    border += hit.start
    return any(
        other is not hit
        and (
            (other.field != hit.field and border < other.start < hit.end)
            or (
                other.field not in (None, hit.field)
                and "\t" not in line.folded[other.start : other.end].strip()
                and other.start < hit.end
                and other.end > hit.start
            )
        )
        for other in hits
    )


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


#: A value beside its label scored under this may be the next header of a header row.
_DOUBTFUL_BESIDE = 0.45


def labelled_candidates(doc: Doc) -> list[Candidate]:
    """Every value found for a label: on its line, else under it (or over it, for a
    caption printed under its value)."""
    candidates: list[Candidate] = []
    for line_hits in doc.hits:
        for hit in line_hits:
            if hit.field is None:
                continue
            finder = _VALUE_FINDERS[hit.field]
            if hit.line in doc.boxes_over_captions:
                candidates.extend(_value_over_caption(doc, hit, finder))
                continue
            same_line = list(_same_line(doc, hit, finder))
            if hit.line in doc.caption_lines:
                # A row of captions holds no values: the next cell is the next caption.
                own = _cell_index(doc.lines[hit.line], hit.start)
                same_line = [c for c in same_line if _cell_index(doc.lines[c.line], c.start) == own]
            candidates.extend(same_line)
            if hit.field == "siret" and not same_line:
                candidates.extend(_siret_cut_by_line_end(doc, hit))
            if hit.field == "iban" and not same_line:
                candidates.extend(_iban_cut_by_line_end(doc, hit))
            if hit.field == "vat" and not same_line:
                candidates.extend(_vat_cut_by_line_end(doc, hit))
            if hit.field == "issue_date" and not same_line:
                candidates.extend(_date_cut_by_line_end(doc, hit))
            # Nothing beside the label, or only a doubtful word (the next header of a
            # row of headers, "Code service" | "Devis"): look under it too.
            if all(c.confidence < _DOUBTFUL_BESIDE for c in same_line):
                candidates.extend(_wrapped_in_prose(doc, hit, finder))
                candidates.extend(_beside_offset(doc, hit, finder))
                over = list(_caption_over(doc, hit, finder))
                candidates.extend(over or _below(doc, hit, finder))
    return candidates


_NOTHING_BUT_N_RE = re.compile(r"\s*(?:n\s?[°o]\.?|numero)?\s*:?\s*")


def _wrapped_in_prose(doc: Doc, hit: Hit, finder: ValueFinder) -> Iterable[Candidate]:
    """A label ending a line of running text ("… à l'attention du service") whose value
    opens the next line of the paragraph."""
    line = doc.lines[hit.line]
    if not _NOTHING_BUT_N_RE.fullmatch(line.folded, hit.end):
        return
    # A table row is cut into cells; a justified line that OCR cut at its wide spaces
    # still has words around the label in its cell.
    seg_start, _ = line.segment_of(hit.start)
    if "\t" in line.folded and len(line.folded[seg_start : hit.end].split()) < 4:
        return
    if line.x1 - line.x0 < 0.5 * line.page.width:
        return  # a label cell, not a line of a paragraph
    following = hit.line + 1
    if following not in doc.page_lines(hit.line):
        return
    below = doc.lines[following]
    if below.top - line.bottom > 0.8 * line.height or abs(below.x0 - line.x0) > line.height:
        return
    # The "n°" of a label may open the next line too ("engagement juridique" | "n° BC-…").
    opening = _NOTHING_BUT_N_RE.match(below.folded)
    start = opening.end() if opening else 0
    for value in finder(below, start, below.segments[0][1])[:1]:
        if value.start == start:
            yield _candidate(doc, hit, value, following, 0.9)


_DIGITS_ENDING_RE = re.compile(r"[\s:]*(\d[\d ]*)$")
_DIGITS_OPENING_RE = re.compile(r"\s*(\d[\d ]*\d)(?!\d)")


def _cut_by_line_end(
    doc: Doc, hit: Hit, ending: re.Pattern[str], opening: re.Pattern[str]
) -> tuple[re.Match[str], re.Match[str]] | None:
    """The part of a value ending the label's line and the part opening the next line,
    right under it, when both look the part."""
    line = doc.lines[hit.line]
    tail = ending.match(line.folded, hit.end)
    following = hit.line + 1
    if tail is None or following not in doc.page_lines(hit.line):
        return None
    below = doc.lines[following]
    head = opening.match(below.folded)
    if head is None or below.top - line.bottom > 0.8 * line.height:
        return None
    return tail, head


def _siret_cut_by_line_end(doc: Doc, hit: Hit) -> Iterable[Candidate]:
    """A SIRET cut by the end of a line of running text ("… siret 887 259" | "513
    00034."): the digits ending the label's line and those opening the next line of the
    paragraph, joined when they make fourteen and pass the checksum."""
    parts = _cut_by_line_end(doc, hit, _DIGITS_ENDING_RE, _DIGITS_OPENING_RE)
    if parts is None:
        return
    tail, head = parts
    digits = (tail.group(1) + head.group(1)).replace(" ", "")
    if len(digits) == 14 and is_valid_siret(digits):
        value = Value(digits, tail.start(1), len(doc.lines[hit.line].folded), 1.0, checked=True)
        yield _candidate(doc, hit, value, hit.line, 0.9)


_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH_ENDING_RE = re.compile(
    rf"[\s:]*((?:[1li|]er|\d{{1,2}})(?:\s+(?:{_MONTH_NAMES})\.?)?)\s*$"
)
_YEAR_OPENING_RE = re.compile(rf"\s*((?:(?:{_MONTH_NAMES})\.?\s+)?(?:19|20)\d\d)(?!\d)")


def _date_cut_by_line_end(doc: Doc, hit: Hit) -> Iterable[Candidate]:
    """A written date cut by the end of a line of running text ("Émis le 23 février" |
    "2024 – …", "Émis le 27" | "janvier 2024"): joined when the parts make a date."""
    parts = _cut_by_line_end(doc, hit, _DAY_MONTH_ENDING_RE, _YEAR_OPENING_RE)
    if parts is None:
        return
    tail, head = parts
    day = parse_date(f"{tail.group(1)} {head.group(1)}")
    if day is not None:
        value = Value(day.isoformat(), tail.start(1), len(doc.lines[hit.line].folded), 0.9)
        yield _candidate(doc, hit, value, hit.line, 0.85)


_VAT_ENDING_RE = re.compile(r"[\s:.]*(fr\s?[0-9a-z]{2}(?:\s?\d)*)\s*$")


def _vat_cut_by_line_end(doc: Doc, hit: Hit) -> Iterable[Candidate]:
    """A VAT number cut by the end of a line of running text ("TVA Intra. FR 34 828" |
    "951 111"): joined when the parts make a French VAT number whose key holds."""
    parts = _cut_by_line_end(doc, hit, _VAT_ENDING_RE, _DIGITS_OPENING_RE)
    if parts is None:
        return
    tail, head = parts
    number = (tail.group(1) + head.group(1)).replace(" ", "").upper()
    if re.fullmatch(r"FR[0-9A-Z]{2}\d{9}", number) and stdnum_tva.is_valid(number):
        value = Value(number, tail.start(1), len(doc.lines[hit.line].folded), 1.0, checked=True)
        yield _candidate(doc, hit, value, hit.line, 0.9)


_IBAN_ENDING_RE = re.compile(r"[\s:]*([a-z]{2}\d{2}(?:[ -]?[a-z0-9]{1,4})*)\s*$")
_IBAN_OPENING_RE = re.compile(r"\s*([a-z0-9]{1,4}(?:[ -]?[a-z0-9]{1,4})*)")


def _iban_cut_by_line_end(doc: Doc, hit: Hit) -> Iterable[Candidate]:
    """An IBAN cut by the end of its line in a narrow block ("IBAN : FR76 3000 6000 0112"
    | "3456 7890 189"): both parts joined when they pass the checksum."""
    parts = _cut_by_line_end(doc, hit, _IBAN_ENDING_RE, _IBAN_OPENING_RE)
    if parts is None:
        return
    tail, head = parts
    start = re.sub(r"[ -]", "", tail.group(1)).upper()
    pieces = re.split(r"[ -]", head.group(1).upper())
    # The longest valid join: the line may go on into a BIC or a bank name.
    for count in range(len(pieces), 0, -1):
        iban = start + "".join(pieces[:count])
        if len(iban) <= 34 and stdnum_iban.is_valid(iban):
            value = Value(iban, tail.start(1), len(doc.lines[hit.line].folded), 1.0, checked=True)
            yield _candidate(doc, hit, value, hit.line, 0.9)
            return


def _caption_over(doc: Doc, hit: Hit, finder: ValueFinder) -> Iterable[Candidate]:
    """A caption printed under its value, as on a form: the text right over the label
    is much closer than anything under it. (Evenly spaced label-over-value lists leave
    the same gap both ways, and keep reading downwards.)"""
    if hit.field in AMOUNT_FIELDS:
        return
    label_line = doc.lines[hit.line]
    lx0, ltop, lx1, lbottom = label_line.box(hit.start, hit.end)

    def nearest(indexes: Iterable[int], reach: float) -> tuple[int, tuple[int, int]] | None:
        """The first cell in the label's column within ``reach`` points of it."""
        for index in indexes:
            line = doc.lines[index]
            if max(line.top - lbottom, ltop - line.bottom) > reach:
                return None  # lines come in order: the rest are farther still
            for start, end in line.segments:
                sx0, stop, sx1, sbottom = line.box(start, end)
                in_column = sx1 >= lx0 - 3 and sx0 <= lx1 + 3
                if in_column and max(stop - lbottom, ltop - sbottom) <= reach:
                    return index, (start, end)
        return None

    page = doc.page_lines(hit.line)
    reach = 0.6 * label_line.height
    above = nearest(reversed(range(page.start, hit.line)), reach)
    if above is None:
        return
    index, (start, end) = above
    sbottom = doc.lines[index].box(start, end)[3]
    gap = max(ltop - sbottom, 1.0)
    if nearest(range(hit.line + 1, page.stop), 3 * gap) is not None:
        return  # something under the label is nearly as close: read downwards
    if _row_labelled(doc, index, start, end):
        return
    for value in finder(doc.lines[index], start, end)[:1]:
        yield _candidate(doc, hit, value, index, 0.8)


def _value_over_caption(doc: Doc, hit: Hit, finder: ValueFinder) -> Iterable[Candidate]:
    """On a form that prints its captions under their boxes, the value of a caption is
    in the box right over it, read from the box's first line."""
    caption = doc.lines[hit.line]
    own = _cell_index(caption, hit.start)
    if own is None:
        return
    cx0, _, cx1, _ = caption.box(*caption.segments[own])
    for rank, index in enumerate(doc.boxes_over_captions.get(hit.line, ())):
        for start, end, x0, _ in doc.cells(index):
            if abs(x0 - cx0) <= 6 or cx0 <= x0 < cx1:
                for value in finder(doc.lines[index], start, end)[:1]:
                    yield _candidate(doc, hit, value, index, 0.9 if rank == 0 else 0.75)
                    return


def _beside_offset(doc: Doc, hit: Hit, finder: ValueFinder) -> Iterable[Candidate]:
    """The value right of its label but set a little higher or lower, so that it fell on
    a line of its own: a value centred in a tall cell beside a label set at the cell's
    top, or printed larger on the same baseline. It is the first cell right of the
    label on a neighbouring line whose box overlaps the label's height."""
    label_line = doc.lines[hit.line]
    _, ltop, lx1, lbottom = label_line.box(hit.start, hit.end)
    # The value must come before whatever else the label's line holds on its right.
    right_limit = min(
        (label_line.box(s, e)[0] for s, e in label_line.segments if s >= hit.end),
        default=label_line.page.width,
    )
    page = doc.page_lines(hit.line)
    for index in range(max(page.start, hit.line - 2), min(page.stop, hit.line + 3)):
        if index == hit.line:
            continue
        line = doc.lines[index]
        for start, end in line.segments:
            sx0, stop, sx1, sbottom = line.box(start, end)
            if sx1 <= lx1 or sx0 >= right_limit:
                continue
            if sx0 < lx1 - 1:
                break  # text under or over the label: another row
            overlap = min(lbottom, sbottom) - max(ltop, stop)
            if overlap <= 0.15 * min(lbottom - ltop, sbottom - stop):
                break
            if _row_labelled(doc, index, start, end):
                break
            for value in finder(line, start, end)[:1]:
                yield _candidate(doc, hit, value, index, 0.85)
            break


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
    if not values and line.page.source is FieldSource.OCR:
        # Dots of a leader read as letters between the label and its value ("N° du
        # document | lemenshs sn | DGD-2025-986", or in the label's own cell: "N° EJ
        # CETETELETET | EJ2024…"): doubtful stretches without digits are skipped.
        pieces = [(max(s, hit.end), e) for s, e in line.segments if e > hit.end and s < end]
        lone = _LONE_CHARACTER_RE.match(line.folded, *pieces[0]) if pieces else None
        if lone and line.confidence(lone.start(1), lone.end(1)) < _JUNK_CONFIDENCE:
            # « N° 5 IMF-25-00318 »: the sign of « N° » read again as a doubtful figure.
            pieces[0] = (lone.end(), pieces[0][1])
            values = finder(line, lone.end(), end)
        skipped = 0
        while len(pieces) >= 2 and skipped < 2 and _leader_noise(line, *pieces[0]):
            pieces.pop(0)
            skipped += 1
        if skipped:
            values = finder(line, pieces[0][0], end)
    if hit.field in _FIRST_VALUE_ONLY:
        values = values[:1]
    values = _split_row_first(values, hit.field)
    for rank, value in enumerate(values[:3]):
        position = (1.0, 0.8, 0.65)[rank]
        yield _candidate(doc, hit, value, hit.line, position)


#: Which of a row's HT, TVA and TTC a field labelling the row means.
_SPLIT_ROW_PART = {"total_tax": 1, "total_incl_tax": 2, "amount_due": 2}


def _split_row_first(values: list[Value], field: str | None) -> list[Value]:
    """A row split into HT, TVA and TTC columns (« Solde | 20 000,00 | 4 000,00 |
    24 000,00 »): the part the field means first, as HT + TVA = TTC shows which is which."""
    part = _SPLIT_ROW_PART.get(field or "")
    if part is None or len(values) != 3:
        return values
    ht, tva, ttc = (Decimal(v.text) for v in values)
    if ht + tva != ttc or tva == 0 or ht == 0:
        return values
    return [values[part], *(v for i, v in enumerate(values) if i != part)]


#: A character standing alone before the rest of a cell.
_LONE_CHARACTER_RE = re.compile(r"\s*(\S)\s+(?=\S)")


def _leader_noise(line: Line, start: int, end: int) -> bool:
    """What stands between a label and its value on an OCR'd line and is no value: a
    stretch of noise (``_junk_cell``) or bare punctuation (« : »)."""
    return not line.folded[start:end].strip(" :.-") or _junk_cell(line, start, end)


def _junk_cell(line: Line, start: int, end: int) -> bool:
    """OCR noise: letters read with little confidence and no digit."""
    text = line.folded[start:end]
    return not any(c.isdigit() for c in text) and line.confidence(start, end) < _JUNK_CONFIDENCE


#: Under this reader confidence a cell of letters between a label and its value is noise.
_JUNK_CONFIDENCE = 0.6


def _below(doc: Doc, hit: Hit, finder: ValueFinder) -> Iterable[Candidate]:
    """Values under the label: a label above its value, a header above its column."""
    label_line = doc.lines[hit.line]
    lx0, _, lx1, _ = label_line.box(hit.start, hit.end)
    lx1 = max(lx1, _label_tail_x1(label_line, hit, doc.hits[hit.line]))
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
        if rows_seen == 0 and _wrapped_header_line(doc, hit, index, finder):
            bottom = line.bottom
            continue  # the second line of a header wrapped in its cell
        rows_seen += 1
        bottom = line.bottom
        in_column = False
        total_row = is_amount and re.match(r"\s*total", line.folded) is not None
        if found >= 3 and not total_row:
            continue  # past the first rows of a column, only its total row is wanted
        for start, end in line.segments:
            sx0, _, sx1, _ = line.box(start, end)
            if (sx1 < lx0 - 3 or sx0 > lx1 + 3) and not _under_cell(
                label_line, hit.start, sx0, sx1
            ):
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
        if total_row and in_column:
            return


def _wrapped_header_line(doc: Doc, hit: Hit, index: int, finder: ValueFinder) -> bool:
    """Line ``index``, right under the label's line, goes on with the label's header cell
    (« N° de commande » over « client »): a few words set under it, no digit, no colon,
    no label, nothing the field's finder reads as a value (« ACHATS » under « Code
    service » is its value)."""
    label_line, line = doc.lines[hit.line], doc.lines[index]
    if line.top - label_line.bottom > 0.6 * label_line.height:
        return False
    if any(c.isdigit() or c == ":" for c in line.folded) or any(h.field for h in doc.hits[index]):
        return False
    cell = _cell_aligned_under(label_line, label_line.segment_of(hit.start), line)
    if cell is None or len(line.folded[cell[0] : cell[1]].split()) > 3:
        return False
    return not finder(line, *cell)


#: The last word of a label that a column gap (OCR's, or a dash it lost) set apart:
#: « Total à régler | acompte », « Montant | TTC ».
_LABEL_TAIL_RE = re.compile(
    rf"\s*[–-]?\s*(?:acompte|solde|{_TTC}|{_HT}|net|du\s+mois|en\s+euros)\s*:?"
)


def _label_tail_x1(line: Line, hit: Hit, hits: Sequence[Hit]) -> float:
    """The right edge of the cell after the label's, when that cell is its last word."""
    cell = _cell_index(line, max(hit.start, hit.end - 1))
    if cell is None or cell + 1 >= len(line.segments):
        return 0.0
    start, end = line.segments[cell + 1]
    if any(start <= other.start < end for other in hits):
        return 0.0
    if not _LABEL_TAIL_RE.fullmatch(line.folded[start:end]):
        return 0.0
    return line.box(start, end)[2]


def _cell_index(line: Line, start: int) -> int | None:
    """The cell (tab-delimited segment) holding ``start``; a label matched from the tab
    before its cell starts in that cell."""
    return next((i for i, (_, e) in enumerate(line.segments) if start < e), None)


def _under_cell(label_line: Line, start: int, x0: float, x1: float) -> bool:
    """Whether the text from ``x0`` to ``x1`` on a line below, overlapping no cell of
    ``label_line``, belongs to the cell holding ``start``: a centred header over a
    right-aligned amount ("TVA" over "1 953,11 €"), a value indented under its label, an
    amount right-aligned in the cell of a strip whose label starts at the cell's left
    edge. It belongs to the last cell that starts before it ends, and starts before the
    next cell does (or within two cell widths of the last one, or one pitch of the
    strip). What starts left of the cell (a sidebar) is never under it."""
    boxes = [label_line.box(s, e) for s, e in label_line.segments]
    own = _cell_index(label_line, start)
    if own is None:
        return False
    if any(x1 >= bx0 - 3 and x0 <= bx1 + 3 for i, (bx0, _, bx1, _) in enumerate(boxes) if i != own):
        return False  # under another cell of the line
    starting_before = [i for i, box in enumerate(boxes) if box[0] - 3 <= x1]
    if not starting_before or starting_before[-1] != own:
        return False
    bx0, _, bx1, _ = boxes[own]
    if own + 1 < len(boxes):
        limit = boxes[own + 1][0]
    else:
        pitch = bx0 - boxes[own - 1][0] if own else 0.0
        limit = max(bx1 + 2 * max(bx1 - bx0, 20.0), bx0 + pitch)
    return bx0 - 3 <= x0 < limit


def _in_cell_column(label_line: Line, start: int, x0: float, x1: float) -> bool:
    """Text from ``x0`` to ``x1`` on the next line overlaps the cell holding ``start``
    or sits under it (``_under_cell``)."""
    own = _cell_index(label_line, start)
    if own is None:
        return False
    cx0, _, cx1, _ = label_line.box(*label_line.segments[own])
    return (x0 <= cx1 + 3 and x1 >= cx0 - 3) or _under_cell(label_line, start, x0, x1)


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
    # Another number's label counts too: « Devis | D-2024-765 » is the quote's.
    inside = [h for h in hits if p_start <= h.start < p_end]
    if inside and all(h.label is _BARE_TOTAL for h in inside):
        return False  # a table's total row: the header above names each column's total
    # Nothing after the label but punctuation or a rate ("TVA 20 %"): a label cell.
    rest = line.folded[max(h.end for h in inside) : p_end] if inside else "x"
    # A rate or a short number goes with its label; a whole value ("Siret : 970 530 358
    # 00013") is that label's, and the next cell is free.
    digits = sum(c.isdigit() for c in rest)
    return re.fullmatch(r"[\s:.,%\d()]*", rest) is not None and digits <= 4


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
_CURRENT_RE = re.compile(
    r"\bmois\b|present|periode|situation|\bacompte\b|a\s+payer|ce\s+jour\b|difference|ecart"
)
#: A column of the state of the works at a date (« Au 31/05/2024 »): a cumulative one,
#: beside the « Différence » of the period.
_AS_OF_HEADER_RE = re.compile(r"^\s*(?:montant\s+|situation\s+)?au\s+\d")


_BASE_BEFORE_RE = re.compile(r"\b(?:sur|base(?:\s+ht)?)\s*:?\s*$")

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
    if field == "total_tax" and _BASE_BEFORE_RE.search(line.folded[: value.start]):
        factor *= 0.1  # "TVA 20 % sur 1 671,62 €": the base, not the VAT
    header = _column_header(doc, line_index, value)
    if header:
        if _CUMULATIVE_RE.search(header) or _AS_OF_HEADER_RE.search(header):
            factor *= 0.25
        elif _CURRENT_RE.search(header):
            factor *= 1.1
    return factor


_FIGURES_RE = re.compile(r"[-\d\s.,€%]+|[-\d\s.,%]*eur")
_STRAY_LETTER_RE = re.compile(r"(?<!\S)[a-z](?!\S)")


def _figures(cell: str) -> bool:
    """A cell of figures ("5 147,80", "-1 500,00 eur"), maybe with a letter standing
    alone among them: a stamp printed across the table ("o 5 147,80" under a
    « COPIE »), not a header."""
    if _FIGURES_RE.fullmatch(cell):
        return True
    return any(c.isdigit() for c in cell) and bool(
        _FIGURES_RE.fullmatch(_STRAY_LETTER_RE.sub("", cell))
    )


#: Tesseract's confidence in words it made of a rule or a smudge ("RATER AS ECS").
_NOISE_CONFIDENCE = 0.4


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
        # The whole cell over the value: a header is often left-aligned or centred over
        # right-aligned figures ("Cumul à ce jour" over "66 900,90 €").
        cells = [(s, e) for s, e, x0, x1 in doc.cells(index) if x1 > vx0 - 3 and x0 < vx1 + 3]
        if not cells:
            continue  # a line of another column
        if all(above.confidence(s, e) < _NOISE_CONFIDENCE for s, e in cells):
            continue  # OCR's reading of a rule or a smudge: no header
        words = [above.folded[s:e] for s, e in cells]
        if all(_figures(w) for w in words):
            if header:
                break
            continue  # a row of figures above ours: keep climbing to the header
        header.insert(0, " ".join(words))
        header_top = above.top
        if len(header) == 3:
            break
    return fold_text(" ".join(header))


# =========================================================================== parties


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
    "supplier": {"supplier": 1.0, "subcontractor": 1.0, "titulaire": 1.0},
    "recipient": {"recipient": 1.0, "moa": 1.0},
    "moa": {"moa": 1.0},
    "moe": {"moe": 1.0},
}


def _role_weight(role: RoleGuess, field_role: str) -> float:
    """How much a number with ``role`` counts for the ``field_role`` field (0: not)."""
    return _FIELD_ROLES[field_role].get(role.role, 0.0) * (0.6 + 0.4 * role.strength)


# =========================================================================== names

# =========================================================================== resolution


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


#: Whether a SIRET is a public structure's, as the directory of public structures says.
#: The directory's name of a listed public structure, ``None`` when the SIRET is unlisted.
PublicStructure = Callable[[str], str | None]


def find_fields(
    pages: Sequence[Page],
    *,
    kind: DocumentKind | None = None,
    public_structure: PublicStructure | None = None,
) -> FieldReading:
    """Pre-fill every canonical field from the words of the pages. ``kind``, when known,
    says whose letterhead it is (an état d'acompte is the maître d'œuvre's);
    ``public_structure``, the directory's lookup, which printed SIRET can be the
    recipient's."""
    doc = build_doc(pages)
    findings: list[Finding] = []
    labelled = labelled_candidates(doc)
    by_field: dict[str, list[Candidate]] = defaultdict(list)
    for cand in labelled:
        by_field[cand.field].append(cand)

    values: dict[str, ExtractedField] = {}
    for name in ("service_code", "engagement_number", "contract_number", "iban"):
        choice = choose(by_field[name] + _unlabelled(doc, name))
        values[name] = _field_from_choice(doc, name, choice, findings)
    # No label read for the piece's number (an OCR'd shaded header cell), or only one
    # too weak to keep (a table's « N° » column): a reference under the title, if one
    # looks the part, as a guess.
    others = {v.value for v in values.values() if v.value}
    numbers = _without_vat_ids(by_field["invoice_number"])
    if all(c.confidence < MIN_VALUE_CONFIDENCE for c in numbers):
        numbers = numbers + _without_vat_ids(_reference_under_title(doc, others))
    values["invoice_number"] = _field_from_choice(
        doc, "invoice_number", choose(_without_cut_readings(doc, numbers)), findings
    )
    date_choice = choose(by_field["issue_date"] or _fallback_dates(doc))
    values["issue_date"] = _month_first_date(
        doc, date_choice, _field_from_choice(doc, "issue_date", date_choice, findings), findings
    )
    for cand in _tagged_amounts(doc):
        by_field[cand.field].append(cand)
    values.update(_amount_fields(doc, by_field, findings))
    values["currency"] = _currency(doc)
    values.update(_party_fields(doc, labelled, kind, findings, public_structure))
    values.update(name_fields(doc, kind))
    if public_structure is not None:
        values["recipient_name"] = _recipient_name_of_the_directory(
            values["recipient_siret"], values["recipient_name"], public_structure, findings
        )
    return FieldReading(fields=PieceFields(**values), findings=tuple(findings))


#: How alike a name read and the directory's must be to be one name misread by OCR.
_NAME_LIKENESS = 0.88


def _recipient_name_of_the_directory(
    siret: ExtractedField,
    name: ExtractedField,
    public_structure: PublicStructure,
    findings: list[Finding],
) -> ExtractedField:
    """The recipient's name as the directory spells it, where the name read is that name
    with OCR's slips (« DÉPARTEMENT OÙ VAL-D'OUBRE »), cut short (« DIRECTION GÉNÉRALE
    DES FINANCES », its last line lost) or run on into the next line of its block (« …
    DE BORDEAUX Direction des achats »). A name unlike it stays as read: the page may
    print another form of it (« Mairie de … »). A name not read at all (a box too
    garbled, a name too short to tell from a word) is the directory's, as the platform's
    form fills it in from the SIRET, a little less sure than the SIRET."""
    if siret.value is None or siret.confidence < MIN_VALUE_CONFIDENCE:
        return name
    listed = public_structure(siret.value)
    if not listed:
        return name
    if name.value is None:
        findings.append(
            Finding(
                code="FIELD_CORRECTED",
                severity=Severity.INFO,
                field="recipient_name",
                message=f"no name read, {listed} taken from the directory of public "
                f"structures for the recipient's SIRET {siret.value}",
            )
        )
        return siret.model_copy(
            update={"value": listed, "confidence": round(0.9 * siret.confidence, 3), "bbox": None}
        )
    read, known = _name_folded(name.value), _name_folded(listed)
    if read == known:
        return name
    stem = read.rstrip(". ")
    cut_short = len(stem) >= 0.5 * len(known) and known.startswith(stem)
    run_on = read.startswith(known + " ")
    misread = difflib.SequenceMatcher(None, read, known).ratio() >= _NAME_LIKENESS
    if not (cut_short or run_on or misread):
        return name
    _corrected(
        findings,
        "recipient_name",
        name.value,
        listed,
        "the directory of public structures names the recipient's SIRET so",
    )
    return name.model_copy(update={"value": listed})


def _name_folded(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", fold_text(name).replace("…", "")).strip()


#: A piece's reference: letters then digits ("FA897338", "PDM-2024-2428"), or a year and
#: a running number ("2025/08601"); never a date.
_PIECE_REF_RE = re.compile(
    r"(?<![\w/-])(?:[a-z]{1,5}[-/]?(?:\d{2,}[-/]?)+\d*|(?:19|20)\d\d[-/]\d{3,})(?![\w/])"
)
#: Prefixes of other documents' numbers: quotes, delivery notes, clients, orders.
_OTHER_REF_PREFIX_RE = re.compile(r"^(?:d|dv|bl|c|cl|bc|ej|cmd|m|ao|mapa|ac|lot)(?=[-/ ]?\d)")


#: How sure a number found under the title, with no label, is.
_TITLE_GUESS = 0.45


def _without_cut_readings(doc: Doc, candidates: list[Candidate]) -> list[Candidate]:
    """The piece's number read in full at one place and cut short by OCR at another
    ("DG25-61 SAT" on page 1, "DG25-6169" in page 2's running head): the short reading
    gives way to the full one."""
    full = {c.value for c in candidates}
    kept = []
    for cand in candidates:
        ocr = doc.lines[cand.line].page.source is FieldSource.OCR
        longer = [v for v in full if len(v) > len(cand.value) and v.startswith(cand.value)]
        if ocr and cand.value[-1:].isdigit() and any(v[len(cand.value)].isdigit() for v in longer):
            continue
        kept.append(cand)
    return kept


#: The shape of a French VAT id: FR, a two-character key, the SIREN.
_VAT_SHAPE_RE = re.compile(r"FR[0-9A-Z]{2}\d{9}")


def _without_vat_ids(candidates: list[Candidate]) -> list[Candidate]:
    """A VAT id is never the piece's number, though OCR can join it to a number label
    (« N° TVA intracom. » read as « N° … »): one that passes its checksum goes, one that
    only has its shape is trusted much less."""
    kept = []
    for cand in candidates:
        compact = cand.value.replace(" ", "").upper()
        if _VAT_SHAPE_RE.fullmatch(compact):
            if stdnum_tva.is_valid(compact):
                continue
            cand = replace(cand, confidence=cand.confidence * 0.3)
        kept.append(cand)
    return kept


def _reference_under_title(doc: Doc, others: set[str]) -> list[Candidate]:
    """A piece reference ("FA897338", "PDM-2024-2428") on the lines right under the title
    cell of page 1, when no label announced one. A guess: low confidence."""
    title = next(
        (
            i
            for i, line in enumerate(doc.lines[:40])
            if line.page.number == 1
            and any(_TITLE_CELL_RE.match(line.folded[s:e]) for s, e in line.segments)
        ),
        None,
    )
    if title is None:
        return []
    for index in range(title, min(title + 5, len(doc.lines))):
        line = doc.lines[index]
        for match in _PIECE_REF_RE.finditer(line.folded):
            text = line.original(match.start(), match.end())
            if (
                # Another field's value, or a whole part of one (« 2024/075 » of « MAPA
                # 2024/075 »).
                any(re.search(rf"(?<![\w/-]){re.escape(text)}(?![\w/-])", o) for o in others)
                or _OTHER_REF_PREFIX_RE.match(match.group())
                or any(h.end <= match.start() and h.field is None for h in doc.hits[index])
            ):
                continue
            reader = reader_factor(line.confidence(match.start(), match.end()))
            return [
                Candidate(
                    "invoice_number", text, _TITLE_GUESS * reader, index, match.start(), match.end()
                )
            ]
    return []


def _unlabelled(doc: Doc, name: str) -> list[Candidate]:
    """Values valid on their own, wherever printed: an IBAN passes its checksum; a
    reference named after its procurement procedure (MAPA, AO) is a contract's."""
    if name == "contract_number":
        return _procedure_references(doc)
    if name != "iban":
        return []
    found = []
    for index, line in enumerate(doc.lines):
        for value in find_ibans(line, 0, len(line.folded)):
            confidence = 0.6 * reader_factor(line.confidence(value.start, value.end), checked=True)
            found.append(Candidate("iban", value.text, confidence, index, value.start, value.end))
    return found


#: "MAPA 2023/015", "AO-2022-CC-20": a marché à procédure adaptée or an appel d'offres.
_PROCEDURE_REF_RE = re.compile(
    r"(?<![\w/-])(?:mapa|ao)[ -]?\d{2,4}(?:[-/][a-z0-9]+){1,3}(?![\w/-])"
)


def _procedure_references(doc: Doc) -> list[Candidate]:
    """Contract references recognised by their procedure prefix, wherever printed: a
    guess for when no label announced one, with little confidence."""
    for index, line in enumerate(doc.lines):
        for match in _PROCEDURE_REF_RE.finditer(line.folded):
            text = line.original(match.start(), match.end())
            reader = reader_factor(line.confidence(match.start(), match.end()))
            return [
                Candidate("contract_number", text, 0.45 * reader, index, match.start(), match.end())
            ]
    return []


#: What an amount in running text says it is, printed after it: "soit 2 220,00 € TTC",
#: "1 850,00 euros hors taxes", "370,00 € de TVA".
_AMOUNT_TAG_RE = re.compile(
    rf"\s*(?:(?P<ht>{_HT}|hors\s+taxes?\b)|(?P<ttc>{_TTC}|toutes\s+taxes\s+comprises\b)|"
    rf"(?P<tva>de\s+{_TVA}))"
)
_TAGGED_FIELDS = {"ht": "total_excl_tax", "ttc": "total_incl_tax", "tva": "total_tax"}
_AMOUNT_TAG_WORD_RE = re.compile(rf"{_HT}|{_TTC}|{_TVA}|\btaxes?\b")


def _tagged_amounts(doc: Doc) -> list[Candidate]:
    """Amounts that name themselves after the figure, as a letter's prose does; weaker
    than a label before them, so that a totals block keeps the last word, and never a
    cumulative or a line of a detail table."""
    found = []
    for index, line in enumerate(doc.lines):
        if not _AMOUNT_TAG_WORD_RE.search(line.folded):
            continue  # most lines: no tag to look for after their amounts
        values = find_amounts(line, 0, len(line.folded))
        cells = {_cell_index(line, value.start) for value in values}
        if len(cells) > 2:
            continue  # a row of a table
        for value in values:
            before = [h for h in doc.hits[index] if h.end <= value.start]
            if before and before[-1].field in AMOUNT_FIELDS:
                continue  # the value of a label: the label says what it is
            tag = _AMOUNT_TAG_RE.match(line.folded, value.end)
            if tag is None or _CUMULATIVE_RE.search(line.folded, 0, value.start):
                continue
            field = _TAGGED_FIELDS[next(k for k, v in tag.groupdict().items() if v)]
            reader = reader_factor(line.confidence(value.start, value.end))
            confidence = 0.6 * value.quality * reader
            found.append(Candidate(field, value.text, confidence, index, value.start, value.end))
    return found


def _fallback_dates(doc: Doc) -> list[Candidate]:
    """No date label: the first date in the top half of page 1, with little confidence."""
    for index, line in enumerate(doc.lines):
        if line.page.number != 1 or line.top > 0.5 * line.page.height:
            break
        blocked = [h for h in doc.hits[index] if h.field != "issue_date"]
        for value in find_dates(line, 0, len(line.folded)):
            if any(_labels_value(line, h, value) for h in blocked):
                continue
            conf = 0.35 * reader_factor(line.confidence(value.start, value.end))
            return [Candidate("issue_date", value.text, conf, index, value.start, value.end)]
    return []


def _labels_value(line: Line, hit: Hit, value: Value) -> bool:
    """Whether ``hit`` may be the label of ``value``: before it, in its cell or the cell
    before (a letterhead's « SIRET … » does not label a date printed across the page)."""
    if hit.end > value.start:
        return False
    label_cell, value_cell = _cell_index(line, hit.end - 1), _cell_index(line, value.start)
    if label_cell is None or value_cell is None or label_cell == value_cell:
        return True
    # The next cell's value is the label's when the label ends its own cell.
    cell_end = line.segments[label_cell][1]
    return value_cell == label_cell + 1 and not line.folded[hit.end : cell_end].strip(" :.")


def _month_first_date(
    doc: Doc, choice: Choice | None, field: ExtractedField, findings: list[Finding]
) -> ExtractedField:
    """The issue date read month first when the page writes its dates that way.

    "11/03/2017" is 11 March in France and 3 November in an American-style layout; a
    page that also prints "11/17/2017" and no date that only reads day first settles it.
    """
    if choice is None or field.value is None:
        return field
    line = doc.lines[choice.candidate.line]
    printed = _NUMERIC_DATE_RE.fullmatch(line.folded, choice.candidate.start, choice.candidate.end)
    if printed is None or printed["sep"] != "/" or not _month_first(doc):
        return field
    try:
        swapped = date(int(field.value[:4]), int(printed["d"]), int(printed["m"]))
    except ValueError:
        return field
    if swapped.isoformat() == field.value:
        return field
    _corrected(
        findings,
        "issue_date",
        field.value,
        swapped.isoformat(),
        "the page writes its dates month first (mm/dd/yyyy)",
    )
    return field.model_copy(update={"value": swapped.isoformat()})


def _month_first(doc: Doc) -> bool:
    """Whether the page's slashed dates read month first: one cannot read day first
    ("11/17/2017") and none cannot read month first ("17/11/2017")."""
    month_first_only = day_first_only = 0
    for line in doc.lines:
        for match in _NUMERIC_DATE_RE.finditer(line.folded):
            if match["sep"] != "/":
                continue
            first, second = int(match["d"]), int(match["m"])
            month_first_only += first <= 12 < second <= 31
            day_first_only += second <= 12 < first <= 31
    return month_first_only > 0 and day_first_only == 0


def _field_from_choice(
    doc: Doc, name: str, choice: Choice | None, findings: list[Finding]
) -> ExtractedField:
    if choice is None or choice.confidence < MIN_VALUE_CONFIDENCE:
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
    return extracted(doc, cand.value, choice.confidence, cand.line, cand.start, cand.end)


# --------------------------------------------------------------------------- amounts

_EXEMPT_RE = re.compile(
    r"tva\s+non\s+applicable|autoliquidation|exonere|exoneration\s+de\s+tva|sans\s+tva|"
    r"art(?:icle)?\.?\s+293\s*b|283-?2|auto-liquidation|due\s+par\s+le\s+preneur|"
    r"exoneration\s+de\s+tva|article\s+262|art\.?\s+262"
)


def _amount_fields(
    doc: Doc, by_field: dict[str, list[Candidate]], findings: list[Finding]
) -> dict[str, ExtractedField]:
    sums, parts = _vat_breakdown(doc, by_field["total_tax"])
    # One line of a breakdown is not the VAT total: its sum is, unless a total is printed.
    by_field["total_tax"] = [
        replace(c, confidence=c.confidence * 0.6) if c in parts else c
        for c in by_field["total_tax"]
    ] + sums or _exempt_zero(doc, by_field)
    _derive_missing_total(doc, by_field, findings)
    settled = _settle_totals(doc, by_field, findings)
    settled.update(_settle_due(doc, by_field, settled, findings))
    result = {}
    for name in AMOUNT_FIELDS:
        if name not in settled or settled[name][1] < MIN_VALUE_CONFIDENCE:
            result[name] = ExtractedField()
            continue
        cand, confidence = settled[name]
        result[name] = extracted(doc, cand.value, confidence, cand.line, cand.start, cand.end)
    return result


_TOTALS = ("total_excl_tax", "total_tax", "total_incl_tax")


#: A runner-up total candidate this sure may complete HT + TVA = TTC.
_RUNNER_UP_CONFIDENCE = 0.5


def _derive_missing_total(
    doc: Doc, by_field: dict[str, list[Candidate]], findings: list[Finding]
) -> None:
    """One of HT, TVA, TTC has no label read (a label OCR could not read): the value the
    other two imply, if it is printed on the page, is a candidate. HT + TVA = TTC then
    checks all three."""
    missing = [name for name in _TOTALS if not by_field[name]]
    if len(missing) != 1:
        return
    name = missing[0]
    first, second = (by_field[other] for other in _TOTALS if other != name)

    # Not only each one's best: the VAT's best may be one line of a breakdown whose sum
    # is the one that adds up ("TVA 20 %", "TVA 5,5 %" and their sum). Runners-up must
    # be well labelled: weak ones (a column of line amounts) would add up by chance.
    def options(candidates: list[Candidate]) -> list[Candidate]:
        ranked = _top_distinct(candidates, 3)
        return ranked[:1] + [c for c in ranked[1:] if c.confidence >= _RUNNER_UP_CONFIDENCE]

    for a, b in itertools.product(options(first), options(second)):
        x, y = Decimal(a.value), Decimal(b.value)
        target = x + y if name == "total_incl_tax" else y - x
        if target > 0 and _printed_total(doc, by_field, name, format_amount(target), findings):
            return


def _printed_total(
    doc: Doc,
    by_field: dict[str, list[Candidate]],
    name: str,
    wanted: str,
    findings: list[Finding],
) -> bool:
    """Adds ``wanted`` as a candidate for ``name`` where it is printed (or printed with
    one digit misread by OCR, then corrected); whether it was found."""
    slip: tuple[int, Value] | None = None
    for index, line in enumerate(doc.lines):
        for value in find_amounts(line, 0, len(line.folded)):
            if value.text == wanted:
                reader = reader_factor(line.confidence(value.start, value.end))
                by_field[name].append(
                    Candidate(name, wanted, 0.5 * reader, index, value.start, value.end)
                )
                return True
            if (
                slip is None
                and line.page.source is FieldSource.OCR
                and _one_digit_off(value.text, wanted)
            ):
                slip = index, value
    if slip is not None:
        # OCR misread one digit ("692,70" for "682,70"): the sum says which it was.
        index, value = slip
        _corrected(findings, name, value.text, wanted, "HT + TVA = TTC with the other two")
        by_field[name].append(Candidate(name, wanted, 0.45, index, value.start, value.end))
        return True
    return False


def _one_digit_off(read: str, wanted: str) -> bool:
    return len(read) == len(wanted) and sum(a != b for a, b in zip(read, wanted, strict=True)) == 1


def _vat_breakdown(
    doc: Doc, vat_candidates: list[Candidate]
) -> tuple[list[Candidate], set[Candidate]]:
    """A multi-rate breakdown ("TVA 20 %", "TVA 10 %", "TVA 5,5 %" on consecutive lines,
    or side by side in a strip of totals) with no VAT total: the VAT is their sum.
    HT + TVA = TTC then checks the sum. Returns the sums and the candidates they add up."""
    rate_lines: list[tuple[int, Decimal, Candidate]] = []
    for index, hits in enumerate(doc.hits):
        line = doc.lines[index]
        vat_hits = [h for h in hits if h.field == "total_tax"]
        for number, hit in enumerate(vat_hits):
            # The rate is in the label ("TVA 20 %") or right after it ("Montant TVA 20 %").
            rate = parse_rate(line.folded[hit.start : hit.end + 12])
            if rate is None:
                continue
            following = vat_hits[number + 1] if number + 1 < len(vat_hits) else None
            mine = [c for c in vat_candidates if _value_of(doc, hit, following, c)]
            if not mine:
                continue
            best = max(mine, key=lambda c: c.confidence)
            base = _printed_base(doc.lines[best.line], best) if best.line == index else None
            if base is not None and not rate_holds(base, rate, Decimal(best.value)):
                continue  # not this rate's VAT
            rate_lines.append((index, rate, best))
    sums = []
    parts: set[Candidate] = set()
    block: list[tuple[int, Decimal, Candidate]] = []
    for item in [*rate_lines, None]:
        if item is not None and (not block or item[0] - block[-1][0] <= 2):
            block.append(item)
            continue
        if len({rate for _, rate, _ in block}) >= 2 and len(block) == len(
            {rate for _, rate, _ in block}
        ):
            total = sum((Decimal(c.value) for _, _, c in block), Decimal(0))
            first = block[0][2]
            confidence = 0.9 * min(c.confidence for _, _, c in block)
            sums.append(replace(first, value=format_amount(total), confidence=confidence))
            parts.update(c for _, _, c in block)
        block = [item] if item is not None else []
    return sums, parts


def _value_of(doc: Doc, hit: Hit, following: Hit | None, candidate: Candidate) -> bool:
    """Whether ``candidate`` is the value of the VAT label ``hit``: after it on its line
    (before the next VAT label), or under its cell on the next line."""
    if candidate.line == hit.line:
        return candidate.start >= hit.end and (
            following is None or candidate.start < following.start
        )
    if candidate.line != hit.line + 1:
        return False
    x0, _, x1, _ = doc.lines[candidate.line].box(candidate.start, candidate.end)
    return _in_cell_column(doc.lines[hit.line], hit.start, x0, x1)


def _printed_base(line: Line, vat: Candidate) -> Decimal | None:
    """The base printed before a VAT amount on its line ("TVA 20 % sur 1 671,62 €")."""
    match = re.search(r"\bsur\s+", line.folded[: vat.start])
    if not match:
        return None
    for value in find_amounts(line, match.end(), vat.start):
        return Decimal(value.text)
    return None


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
    slip = _one_slip_in_best(doc, by_field)
    if slip is not None and triple is not None and not _far_surer(slip[0], triple):
        slip = None
    if slip is not None:
        # Nothing adds up as read, but the best of each do once OCR's slip on one digit
        # is undone. (Three amounts that add up as read are far more telling: the sum of a
        # slip-corrected triple overrides them only when each of them is far less sure,
        # as another column's are: the cumulative one of a recap whose month OCR slipped.)
        best, (name, read) = slip
        settled = dict(zip(_TOTALS, best, strict=True))
        _corrected(findings, name, read, settled[name].value, "HT + TVA = TTC")
        return {
            field: (cand, cand.confidence if field == name else _checked(cand.confidence))
            for field, cand in settled.items()
        }
    if triple is None and slip is None and (garbled := _garbled_total(doc, by_field)):
        derived, garbled_read = garbled
        _corrected(
            findings,
            derived.field,
            garbled_read,
            derived.value,
            "HT + TVA = TTC with the other two",
        )
        ht, tva, ttc = (
            derived if n == derived.field else max(by_field[n], key=lambda c: c.confidence)
            for n in _TOTALS
        )
        triple = (ht, tva, ttc)
    if triple is not None:
        # Another triple that adds up too (a recap's cumulative column beside the
        # month's): the check does not tell them apart, the scores alone do.
        rival = competition(_rival_triple_ratio(by_field, triple))
        return {
            name: (cand, _checked(cand.confidence) * rival)
            for name, cand in zip(_TOTALS, triple, strict=True)
        }
    choices = {name: choose(by_field[name]) for name in _TOTALS}
    present = {name: choice for name, choice in choices.items() if choice is not None}
    difference = _vat_of_the_difference(doc, choices)
    if difference is not None:
        vat, vat_read = difference.vat, choices["total_tax"]
        if difference.confirmed:
            # HT × the printed rate = TTC − HT: two checks agree on all three.
            if vat_read is not None and vat_read.candidate.value != vat.value:
                _corrected(
                    findings,
                    "total_tax",
                    vat_read.candidate.value,
                    vat.value,
                    "TTC − HT, which the printed VAT rate confirms",
                )
            ht, ttc = present["total_excl_tax"].candidate, present["total_incl_tax"].candidate
            if difference.ttc is not None:
                _corrected(
                    findings,
                    "total_incl_tax",
                    ttc.value,
                    difference.ttc.value,
                    "HT × (1 + the printed VAT rate), one digit off what OCR read",
                )
                ttc = difference.ttc
            return {
                "total_excl_tax": (ht, _checked(ht.confidence)),
                "total_tax": (vat, vat.confidence),
                "total_incl_tax": (
                    ttc,
                    _checked(ttc.confidence) if difference.ttc is None else ttc.confidence,
                ),
            }
        if vat_read is None:
            present["total_tax"] = Choice(vat, vat.confidence, 0.0)
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


#: Confidence of a VAT taken as TTC − HT: confirmed by the rate printed beside a VAT
#: mention, or only implied by the two totals where the page prints no VAT amount.
_DIFFERENCE_CONFIRMED = 0.8
_DIFFERENCE_IMPLIED = 0.45
_VAT_MENTION_RE = re.compile(r"\bt\.?\s?v\.?\s?a\b")


@dataclass(frozen=True)
class _Difference:
    """A VAT taken as TTC − HT (``_vat_of_the_difference``)."""

    vat: Candidate
    confirmed: bool  # a printed rate gives it
    ttc: Candidate | None = None  # the TTC with OCR's slip undone, when one was


def _vat_of_the_difference(doc: Doc, choices: dict[str, Choice | None]) -> _Difference | None:
    """The VAT a careful clerk takes when HT and TTC are read and no VAT amount adds up
    with them: TTC − HT, at the place the page mentions the VAT.

    A VAT rate printed there that gives it (HT × rate = TTC − HT) confirms it; on an OCR'd
    page, a TTC one digit off HT × (1 + rate) is that slip undone (a credit note's minus
    read as a 4: « 41 864,87 » for « -11 864,87 »). A single rate that gives neither says
    HT or TTC is wrong, and nothing is derived; with several rates, or none printed, the
    difference is only implied."""
    ht, ttc = choices["total_excl_tax"], choices["total_incl_tax"]
    if ht is None or ttc is None:
        return None
    base = Decimal(ht.candidate.value)
    difference = Decimal(ttc.candidate.value) - base
    sure = min(ht.confidence, ttc.confidence)
    mention: tuple[int, int, int] | None = None
    rates: set[Decimal] = set()
    for index, line in enumerate(doc.lines):
        for match in _VAT_MENTION_RE.finditer(line.folded):
            mention = mention or (index, *match.span())
            for rate in parse_rates(line.folded[match.end() : match.end() + 32]):
                rates.add(rate)
                if difference >= 0 and rate_holds(base, rate, difference):
                    vat = Candidate(
                        "total_tax",
                        format_amount(difference),
                        sure * _DIFFERENCE_CONFIRMED,
                        index,
                        *match.span(),
                    )
                    return _Difference(vat, confirmed=True)
    if mention is None:
        return None
    if len(rates) == 1:
        (rate,) = rates
        vat_value = vat_of(base, rate)
        wanted = format_amount(base + vat_value)
        read = ttc.candidate
        if doc.lines[read.line].page.source is FieldSource.OCR and _one_digit_off(
            read.value, wanted
        ):
            vat = Candidate(
                "total_tax", format_amount(vat_value), sure * _DIFFERENCE_CONFIRMED, *mention
            )
            return _Difference(vat, confirmed=True, ttc=replace(read, value=wanted))
    if len(rates) == 1 or difference < 0:
        return None
    implied = Candidate(
        "total_tax", format_amount(difference), sure * _DIFFERENCE_IMPLIED, *mention
    )
    return _Difference(implied, confirmed=False)


def _far_surer(best: _Triple, other: _Triple) -> bool:
    """Each of ``best`` at least twice as sure as its counterpart in ``other``."""
    return all(a.confidence >= 2 * b.confidence for a, b in zip(best, other, strict=True))


#: The other two totals must be this sure to say what a garbled third one reads.
_SURE_TOTAL = 0.45


def _garbled_total(doc: Doc, by_field: dict[str, list[Candidate]]) -> tuple[Candidate, str] | None:
    """The one total OCR garbled past reading as an amount ("9 300 ? 76 €", its comma
    read as a sign): the value the other two imply, when the digits OCR read after its
    label are exactly that value's digits. Also what was read."""
    best = {name: max(by_field[name], key=lambda c: c.confidence, default=None) for name in _TOTALS}
    found = []
    for name in _TOTALS:
        others = [best[other] for other in _TOTALS if other != name]
        if any(c is None or c.confidence < _SURE_TOTAL for c in others):
            continue
        x, y = (Decimal(c.value) for c in others if c is not None)
        implied = x + y if name == "total_incl_tax" else y - x  # (TVA, TTC) or (HT, TTC)
        if implied <= 0:
            continue
        wanted = format_amount(implied)
        digits = wanted.replace(".", "")
        for index, line in enumerate(doc.lines):
            if line.page.source is not FieldSource.OCR:
                continue
            hits = doc.hits[index]
            for at, hit in enumerate(hits):
                if hit.field != name:
                    continue
                end = hits[at + 1].start if at + 1 < len(hits) else len(line.folded)
                printed = re.search(r"\d[^a-z]*\d", line.folded[hit.end : end])
                if printed is None or re.sub(r"\D", "", printed.group()) != digits:
                    continue
                start, stop = hit.end + printed.start(), hit.end + printed.end()
                reader = reader_factor(line.confidence(start, stop))
                cand = Candidate(name, wanted, 0.5 * reader, index, start, stop)
                found.append((cand, line.original(start, stop)))
    return found[0] if len({cand.field for cand, _ in found}) == 1 else None


def _checked(confidence: float) -> float:
    """A total that HT + TVA = TTC confirms is much more likely right."""
    return confidence + (MAX_CONFIDENCE - confidence) * 0.65


_Triple = tuple[Candidate, Candidate, Candidate]


def _one_slip_in_best(
    doc: Doc, by_field: dict[str, list[Candidate]]
) -> tuple[_Triple, tuple[str, str]] | None:
    """The best HT, TVA and TTC read by OCR, once the one of them that OCR misread by a
    single digit is corrected so that they add up (when only one of the three can be:
    the corrected one keeps its own confidence, lowered); and which was read as what.
    Only the best of each: runners-up that add up after a correction are as often
    another column's amounts."""
    ht, tva, ttc = (
        max(by_field[name], key=lambda c: c.confidence, default=None) for name in _TOTALS
    )
    if ht is None or tva is None or ttc is None:
        return None
    triple = (ht, tva, ttc)
    if any(doc.lines[c.line].page.source is not FieldSource.OCR for c in triple):
        return None
    if len({(c.line, c.start) for c in triple}) < 3:
        return None  # one printed amount standing for two totals
    x, y, z = (Decimal(c.value) for c in triple)
    options = [
        (index, format_amount(wanted))
        for index, wanted in enumerate((z - y, z - x, x + y))
        if wanted > 0 and _one_digit_off(triple[index].value, format_amount(wanted))
    ]
    if len(options) > 1:
        # Either of two could be the slip: not one read the same at two places.
        options = [(i, w) for i, w in options if _readings(by_field, i, triple[i]) < 2]
    slipped: Candidate | None = None
    if len(options) == 1:
        index, wanted = options[0]
        slipped = triple[index]
    elif not options:
        beside_pair = _slip_beside_a_confirmed_pair(by_field, triple)
        if beside_pair is not None:
            index, slipped, wanted = beside_pair
    if slipped is None:
        return None
    fixed = list(triple)
    fixed[index] = replace(slipped, value=wanted, confidence=slipped.confidence * 0.8)
    return (fixed[0], fixed[1], fixed[2]), (_TOTALS[index], slipped.value)


def _slip_beside_a_confirmed_pair(
    by_field: dict[str, list[Candidate]], triple: _Triple
) -> tuple[int, Candidate, str] | None:
    """The total that the other two imply, when each of those two was read the same at
    two places or more and one of the total's own readings (not only its best) is that
    value with one digit slipped or its decimals lost ("36.367 EUR" for 36 367,45): which
    total, the reading, the value."""
    x, y, z = (Decimal(c.value) for c in triple)
    found = []
    for index, (name, implied) in enumerate(zip(_TOTALS, (z - y, z - x, x + y), strict=True)):
        if implied <= 0 or any(
            _readings(by_field, i, triple[i]) < 2 for i in range(3) if i != index
        ):
            continue
        wanted, whole = format_amount(implied), format_amount(Decimal(int(implied)))
        for cand in _top_distinct(by_field[name], 3):
            if _one_digit_off(cand.value, wanted) or (cand.value == whole != wanted):
                found.append((index, cand, wanted))
                break
    return found[0] if len(found) == 1 else None


def _readings(by_field: dict[str, list[Candidate]], index: int, cand: Candidate) -> int:
    """On how many lines the value of ``cand`` was read for its total."""
    return len({c.line for c in by_field[_TOTALS[index]] if c.value == cand.value})


def _settle_due(
    doc: Doc,
    by_field: dict[str, list[Candidate]],
    totals: dict[str, tuple[Candidate, float]],
    findings: list[Finding],
) -> dict[str, tuple[Candidate, float]]:
    """The net to pay, checked against the TTC less the deductions printed (retenue de
    garantie, advance repayment, acomptes already paid): a net that fits is as sure as
    the TTC; a candidate that fits beats a better-scored one that does not."""
    due = choose(by_field["amount_due"])
    ttc = totals.get("total_incl_tax")
    deductions = _deductions(doc)
    if due is not None and ttc is not None:
        ttc_value = Decimal(ttc[0].value)
        expected = {format_amount(net_after(ttc_value, d)) for d in deductions if any(d)}
        value = due.candidate.value
        if value in expected:
            # Two checks hold (the TTC's triple, the net's deductions): more than either.
            confidence = max(due.confidence, ttc[1])
            confidence += (MAX_CONFIDENCE - confidence) * 0.5
            return {"amount_due": (due.candidate, confidence)}
        fits = [c for c in by_field["amount_due"] if c.value in expected]
        if value == ttc[0].value:
            # Nothing deducted: the TTC's check vouches for the net too. Deductions
            # printed but a net equal to the TTC: one of them is misread.
            if not expected:
                return {"amount_due": (due.candidate, max(due.confidence, ttc[1]))}
            if not fits:
                return {"amount_due": (due.candidate, due.confidence * 0.8)}
        if fits:
            best = max(fits, key=lambda c: c.confidence)
            _corrected(
                findings,
                "amount_due",
                value,
                best.value,
                "it is the TTC less the deductions printed",
            )
            return {"amount_due": (best, max(best.confidence, ttc[1] * 0.9))}
        # Neither the TTC nor the TTC less what is deducted: unverified.
        return {"amount_due": (due.candidate, min(due.confidence, 0.8))}
    if due is not None:
        return {"amount_due": (due.candidate, min(due.confidence, 0.9))}
    if ttc is not None and _first_match(doc, _DEDUCTION_RE) is None:
        # No "net à payer" printed and nothing deducted: the TTC is what is due (BT-115).
        return {"amount_due": (ttc[0], ttc[1] * 0.85)}
    return {}


_DEDUCTION_RE = re.compile(
    r"\bret(?:enue|\.)?\s+(?:de\s+)?garantie|"
    r"\b(?:remboursement|resorption|reprise|deduction|recuperation)\s+"
    r"(?:de\s+l'|d'|sur\s+(?:l')?)?avance|\bavance\s+a\s+rembourser|"
    r"\bacomptes?\s+(?:anterieurs?|precedents?|deja\s+\w+|a\s+la\s+commande|"
    r"verses|regles|payes|mandates|percus?|recus?|encaisses?)|"
    r"\btotal\s+des\s+acomptes|\bretention\b|\badvance\s+repayment|\bprevious\s+payments?|"
    r"\bdeposit\s+received|\bsituations?\s+(?:anterieures?|precedentes?)"
    r"|\b(?:deja\s+(?:paye|regle|verse|mandate|facture)s?)"
    r"|\brg\b(?=\s*(?:\d|\())"  # "RG 5 %": the retenue de garantie as the trade writes it
)


def _deductions(doc: Doc) -> list[list[Decimal]]:
    """The sets of deductions the page may mean: each deduction line's amount (the last
    one printed when a line has several columns, else the first). At most a few sets:
    the last block of deduction lines, and all of them."""
    found: list[tuple[int, Decimal]] = []
    for index, line in enumerate(doc.lines):
        match = _DEDUCTION_RE.search(line.folded)
        if not match:
            continue
        amounts, at = find_amounts(line, match.end(), len(line.folded)), index
        if not amounts:
            amounts, at = _amounts_under(doc, index, match.start()), index + 1
        if amounts:
            found.append((at, Decimal(amounts[-1].text)))
    if not found:
        return [[]]
    last_block = [found[-1]]
    for item in reversed(found[:-1]):
        if last_block[0][0] - item[0] > 3:
            break
        last_block.insert(0, item)
    options = [[a for _, a in last_block], [a for _, a in found]]
    options += [[a] for _, a in last_block]
    return [[], *options]


def _amounts_under(doc: Doc, index: int, start: int) -> list[Value]:
    """The amounts of the next line under the cell holding ``start`` (a deduction in a
    strip of totals: its label in the header row, its amount below)."""
    line = doc.lines[index]
    if index + 1 >= len(doc.lines):
        return []
    below = doc.lines[index + 1]
    if below.page is not line.page or below.top - line.bottom > 2 * line.height:
        return []
    amounts = []
    for s, e in below.segments:
        bx0, _, bx1, _ = below.box(s, e)
        if _in_cell_column(line, start, bx0, bx1):
            amounts += find_amounts(below, s, e)
    return amounts


def _corrected(findings: list[Finding], field: str, read: str, kept: str, why: str) -> None:
    findings.append(
        Finding(
            code="FIELD_CORRECTED",
            severity=Severity.INFO,
            field=field,
            message=f"read {read}, kept {kept} because {why}",
        )
    )


def _reconcile(
    by_field: dict[str, list[Candidate]], names: tuple[str, str, str]
) -> tuple[Candidate, Candidate, Candidate] | None:
    """The best-scored HT, TVA, TTC candidates with HT + TVA = TTC, if any."""
    best = max(_adding_triples(by_field, names), key=lambda scored: scored[0], default=None)
    return best[1] if best else None


def _adding_triples(
    by_field: dict[str, list[Candidate]], names: tuple[str, str, str] = _TOTALS
) -> Iterator[tuple[float, tuple[Candidate, Candidate, Candidate]]]:
    """Every HT, TVA, TTC of the best distinct candidates with HT + TVA = TTC (a TTC not
    zero), with the sum of their scores."""
    pools = [_top_distinct(by_field[name]) for name in names]
    for ht, tva, ttc in itertools.product(*pools):
        if Decimal(ttc.value) != 0 and Decimal(ht.value) + Decimal(tva.value) == Decimal(ttc.value):
            yield ht.confidence + tva.confidence + ttc.confidence, (ht, tva, ttc)


def _rival_triple_ratio(
    by_field: dict[str, list[Candidate]], chosen: tuple[Candidate, Candidate, Candidate]
) -> float:
    """The score of the best other HT, TVA, TTC that add up (another TTC), over the
    chosen one's; 0 when there is none."""
    chosen_score = sum(c.confidence for c in chosen)
    best = max(
        (
            score
            for score, triple in _adding_triples(by_field)
            if triple[2].value != chosen[2].value
        ),
        default=0.0,
    )
    return best / chosen_score if chosen_score else 0.0


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
    return extracted(doc, code, confidence * (0.5 + 0.5 * reader), index, start, end)


def _source(doc: Doc) -> FieldSource | None:
    return doc.lines[0].page.source if doc.lines else None


# --------------------------------------------------------------------------- parties


def _party_fields(
    doc: Doc,
    labelled: list[Candidate],
    kind: DocumentKind | None,
    findings: list[Finding],
    public_structure: PublicStructure | None = None,
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
    paid = paid_roles(kind)
    supplier = _best_party(subcontractors or sirets, "supplier", roles, paid)
    taken = {pick[0].value for pick in (recipient, moa, moe) if pick is not None}
    supplier = _siren_of_the_vat(subcontractors or sirets, vats, supplier, roles, paid, taken)
    if public_structure is not None:
        recipient = _mended_by_the_directory(
            recipient, "recipient_siret", public_structure, findings
        )
        moa = _mended_by_the_directory(moa, "moa_siret", public_structure, findings)
        recipient = _recipient_of_the_directory(
            sirets, recipient, (supplier, moe), public_structure, findings
        )
    supplier_vat = _supplier_vat(vats, sirets, supplier, paid, findings)
    if supplier_vat and supplier and supplier_vat[0].value[4:] == supplier[0].value[:9]:
        # The VAT number carries the SIREN: both readings confirm each other.
        supplier_vat = (supplier_vat[0], min(MAX_CONFIDENCE, supplier_vat[1] * 1.2))
        supplier = (supplier[0], min(MAX_CONFIDENCE, supplier[1] * 1.2))
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
        result[name] = extracted(doc, number.value, score, number.line, number.start, number.end)
    return result


#: How much a printed, checksum-valid SIRET gains from being the only one of the page
#: in the directory of public structures, up to ``_DIRECTORY_MAX``.
_DIRECTORY_FACTOR = 1.3
_DIRECTORY_MAX = 0.9


def _mended_by_the_directory(
    pick: tuple[PartyNumber, float] | None,
    field: str,
    public_structure: PublicStructure,
    findings: list[Finding],
) -> tuple[PartyNumber, float] | None:
    """A public structure's SIRET read with one wrong figure (« 227 815 901 00012 »: its
    checksum fails) is the one SIRET a figure away that passes its checksum and that the
    directory lists. Of the 126 numbers a figure away, a few pass the checksum: only
    the directory tells them apart, so a second listed one leaves the reading as it was."""
    if pick is None or is_valid_siret(pick[0].value) or not pick[0].value.isdigit():
        return pick
    number = pick[0].value
    listed = {
        variant
        for index in range(len(number))
        for figure in "0123456789"
        if figure != number[index]
        and is_valid_siret(variant := number[:index] + figure + number[index + 1 :])
        and public_structure(variant)
    }
    if len(listed) != 1:
        return pick
    mended = listed.pop()
    _corrected(
        findings,
        field,
        number,
        mended,
        "the SIRET read fails its checksum, and the directory of public structures lists "
        "this one, a figure away",
    )
    return replace(pick[0], value=mended), min(_DIRECTORY_MAX, max(pick[1], 0.6))


def _recipient_of_the_directory(
    sirets: list[PartyNumber],
    recipient: tuple[PartyNumber, float] | None,
    others: tuple[tuple[PartyNumber, float] | None, ...],
    public_structure: PublicStructure,
    findings: list[Finding],
) -> tuple[PartyNumber, float] | None:
    """The recipient is a public structure: where no SIRET was found for it, or the one
    found is in no directory, the page's only SIRET that the directory lists and no other
    party holds is the recipient's. Two listed SIRETs (a public maître d'œuvre beside the
    MOA) leave the choice as it was."""
    if recipient is not None and public_structure(recipient[0].value):
        return recipient
    held = {pick[0].value for pick in others if pick is not None}
    listed = [n for n in sirets if n.value not in held and public_structure(n.value)]
    if len({n.value for n in listed}) != 1:
        return recipient
    best = max(listed, key=lambda n: n.confidence)
    if recipient is not None:
        _corrected(
            findings,
            "recipient_siret",
            recipient[0].value,
            best.value,
            "the SIRET read for the recipient is in no directory of public structures; "
            "this one, printed on the page, is",
        )
    return best, min(_DIRECTORY_MAX, best.confidence * _DIRECTORY_FACTOR)


def _as_issued(numbers: list[PartyNumber], kind: DocumentKind | None) -> list[PartyNumber]:
    """Whose are the numbers printed in the letterhead and footer (roles by position)?

    An état d'acompte is issued by the maître d'œuvre (CCAG Travaux 12.2.2), an état
    d'acompte validé by the MOE or the MOA: there they are the issuer's, not the paid
    firm's (DESIGN 4.1). A works piece that names the titulaire in its own block was
    issued by the other party: the MOE when the MOA has a block too, else the MOA. A
    subcontractor's payment request is the subcontractor's own letterhead.
    """
    if kind is None or not kind.is_works_piece:
        return numbers
    headed = {n.role.role: n.value for n in numbers if not n.role.by_position}
    paid = {n.value for n in numbers if not n.role.by_position and n.role.role == "titulaire"}
    if kind is DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT:
        issuer = "supplier" if "subcontractor" in headed else "subcontractor"
    elif paid or kind in MONTHLY_BY_MOE:
        issuer = issuer_of(set(headed), kind)
    else:
        return numbers
    out = []
    for number in numbers:
        role = number.role
        if role.by_position and role.role == "supplier" and number.value not in paid:
            strength = role.strength if issuer in ("subcontractor", "moa") else role.strength * 0.6
            role = RoleGuess(issuer, strength, by_position=True)
        out.append(
            PartyNumber(
                number.value, number.confidence, role, number.line, number.start, number.end
            )
        )
    return out


def _siren_of_the_vat(
    sirets: list[PartyNumber],
    vats: list[PartyNumber],
    supplier: tuple[PartyNumber, float] | None,
    roles: dict[str, str],
    paid: set[str],
    taken: set[str],
) -> tuple[PartyNumber, float] | None:
    """The paid firm's SIRET, the one whose SIREN its VAT id carries when the best-scored
    does not and only its place on the page made it the supplier's: two checksums
    agreeing outweigh a place (OCR can garble a footer's SIRET into another valid one)."""
    vat_roles = _value_roles(vats)
    sirens = {v.value[4:] for v in vats if vat_roles.get(v.value) in paid}
    if supplier is None or supplier[0].value[:9] in sirens or not sirens:
        return supplier
    if not supplier[0].role.by_position:
        return supplier  # a SIRET under the titulaire's heading or label stays
    # A SIRET the page's layout alone gave to another party counts too: the VAT id's
    # role and its checksum say more.
    confirmed = [
        n
        for n in sirets
        if n.value[:9] in sirens
        and n.value not in taken
        and (roles.get(n.value) in paid or n.role.by_position)
    ]
    if not confirmed:
        return supplier
    best = max(confirmed, key=lambda n: n.confidence)
    return best, best.confidence * 0.9


def _supplier_vat(
    vats: list[PartyNumber],
    sirets: list[PartyNumber],
    supplier: tuple[PartyNumber, float] | None,
    paid: set[str],
    findings: list[Finding],
) -> tuple[PartyNumber, float] | None:
    """The paid firm's VAT id: it carries the SIREN of the supplier's SIRET. One that
    carries another party's SIREN (the MOE's in its letterhead, the buyer's) is theirs."""
    siren = supplier[0].value[:9] if supplier else None
    others = {n.value[:9] for n in sirets if n.value[:9] != siren}
    kept = [n for n in vats if n.value[4:] == siren or n.value[4:] not in others]
    for number in vats:
        if number not in kept and number.value not in {k.value for k in kept}:
            findings.append(
                Finding(
                    code="FIELD_CORRECTED",
                    severity=Severity.INFO,
                    field="supplier_vat_id",
                    message=f"read {number.value}, not kept because it carries the SIREN of "
                    "another party's SIRET, not the supplier's",
                )
            )
            break
    pick = _best_party(kept, "supplier", _value_roles(kept), paid)
    if pick and siren and pick[0].value[4:] != siren:
        # Neither the supplier's nor another party's: unverified, trusted less.
        return pick[0], min(pick[1], 0.6)
    return pick


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
