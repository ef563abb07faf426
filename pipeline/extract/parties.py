"""Who is who on a piece: the role of a number or a name by the heading of its block or
its place on the page, whose letterhead it is, and the parties' names.

DESIGN 4.1: the supplier is the firm being paid (the subcontractor on its direct payment
request), the recipient the public body the piece is addressed to (the maître d'ouvrage
on works pieces). A works piece that names the titulaire in a block of its own was issued
by someone else: the maître d'œuvre or the maître d'ouvrage.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace

from pipeline.extract.layout import MIN_CONFIDENCE, Doc, extracted
from pipeline.extract.pdf_text import Line, fold_text
from pipeline.models import DocumentKind, ExtractedField, FieldSource

_ROLE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # OCR may read the circumflex of « MAÎTRE » twice ("MAÏÎTRE"): "mai+".
    # « Maître de l'ouvrage », as older CCAG texts word it.
    (
        "moa",
        re.compile(
            # OCR reads the d' of a small-capitals heading as y' or loses « MAÎTRE ».
            r"\bmai+tri?(?:se|e)\s+(?:[dy]'|de\s+l')\s?ouvrage\b|(?<![^\t])\S{0,6}\s?d'ouvrage\b|"
            r"\bmoa\b|\bpouvoir\s+adjudicateur|"
            r"\bpersonne\s+publique\b"
        ),
    ),
    ("moe", re.compile(r"\bmai+tri?(?:se|e)\s+(?:[dy]'|de\s+l')\s?oeuvre\b|\bmoe\b")),
    ("subcontractor", re.compile(r"\bsous[- ]?traitant")),
    (
        "recipient",
        re.compile(
            r"(?<!service )(?<!n° )(?<!code )(?<!ref )(?<!ref\. )\bclients?\b|\bdestinataire\b|"
            r"\bdest\b|\bfacture\s+a\b|\badresse\s+a\b|\ba\s+l'attention\b|\bacheteur\b|"
            r"\bacquereur\b|\bministere\b|\badresse\s+de\s+facturation\b|\bdonneur\s+d'ordre|"
            r"\bcommanditaire\b|\bvos\s+identifiants\b|\bdebiteur\b|\bvotre\s+siret\b|"
            # « Vos références : SIRET … »; « Entité publique : … »; « DOIT : », the old
            # heading of whom an invoice is made out to.
            r"\bvos\s+ref(?:erences|\.)?(?![\w.])|\bentite\s+publique\b|"
            r"\bbill(?:ed)?\s+to\b|\binvoice\s+to\b|\bsold\s+to\b|"
            r"\bcustomer\b(?!\s+(?:no\b|number|id\b|ref|code|vat|tax|account|service|contact))|"
            r"(?:^|\t)\s*doit\b(?=\s*:?\s*(?:\t|$))"
        ),
    ),
    # Who issued the piece, by a heading that does not say in what capacity (« Émetteur »,
    # « Expéditeur »): the letterhead's party, the paid firm or another one depending on
    # the kind (see ``party_role``). Not a bare « De », which OCR makes of specks.
    ("issuer", re.compile(r"\bemetteur\b|\bexpediteur\b")),
    # The titulaire of the contract: the paid firm, except on a subcontractor's payment
    # request (there the subcontractor is paid, DESIGN 4.1).
    ("titulaire", re.compile(r"\b(?:entreprise\s+)?titulaire\b")),
    (
        "supplier",
        re.compile(
            r"\bfournisseur\b|\bvendeur\b|\bprestataire\b|"
            r"\bentreprise\b(?!\s+titulaire)|\bco-?traitant\b|\bmandataire\b|\bcreancier\b|"
            r"\bbeneficiaire\b|\bnotre\s+siret\b|\bsupplier\b|\bseller\b|\bvendor\b"
        ),
    ),
)


#: Any role wording: most lines have none, and are skipped at once.
_ANY_ROLE_RE = re.compile("|".join(f"(?:{p.pattern})" for _, p in _ROLE_PATTERNS))


@dataclass(frozen=True)
class RoleGuess:
    role: str
    strength: float
    by_position: bool = False  # no words said it: only where it is printed


def party_role(doc: Doc, line_index: int, start: int, end: int) -> RoleGuess:
    """Whose number is this: the role keyword nearest before it on its line, else the
    heading of its block (the lines above in its column), else where it sits. A block
    headed « Émetteur » is the issuer's, like the letterhead: whose that is depends on
    the kind (``_as_issued``)."""
    guess = _party_role(doc, line_index, start, end)
    if guess.role == "issuer":
        return RoleGuess("supplier", guess.strength, by_position=True)
    return guess


def _party_role(doc: Doc, line_index: int, start: int, end: int) -> RoleGuess:
    line = doc.lines[line_index]
    seg_start, _ = line.segment_of(start)
    # The label may sit in the previous segment ("SIRET client :<tab>110 002 …").
    context_start = seg_start
    for s_start, s_end in line.segments:
        if s_end < seg_start:
            context_start = s_start
    role = last_role(line.folded[context_start:start])
    if role:
        return RoleGuess(role, 1.0)
    role = _row_role(line)
    if role:
        return RoleGuess(role, 0.85)
    cx0, cx1 = line.segment_x(start)
    vx0, _, vx1, _ = line.box(start, end)
    cx0, cx1 = min(cx0, vx0), max(cx1, vx1)
    caption = doc.caption_under_line.get(line_index)
    if caption is not None:
        # A form with its captions under the boxes: the caption under the number's box
        # names its role, and the captions over it are other boxes'.
        role = last_role(_in_column(doc, caption, cx0, cx1))
        if role:
            return RoleGuess(role, 0.95)
    previous_top = line.top
    lines_up = 0
    fallback: RoleGuess | None = None
    public_body = bool(_PUBLIC_BODY_RE.search(line.folded[context_start:start]))
    firm = bool(_FIRM_MENTION_RE.search(line.folded[context_start:start]))
    in_block = True
    for index in reversed(doc.page_lines(line_index)):
        if index >= line_index:
            continue
        if caption is not None and index in doc.caption_lines:
            break
        above = doc.lines[index]
        in_column = _in_column(doc, index, cx0, cx1) or _section_heading(doc, index, cx0)
        if not in_column:
            continue  # a line of another column
        gap = previous_top - above.bottom
        if gap > 3 * max(above.height, line.height) or lines_up >= 8:
            break
        # A public body's name counts in the number's own block only: not in the rows
        # of an item table over a legal footer ("… — mairie annexe").
        in_block = in_block and gap <= 1.5 * max(above.height, line.height)
        if not in_block and len(in_column.split()) > 10:
            # Running text set apart ("Vu et vérifié par le maître d'œuvre …" over a legal
            # footer) heads no block; a sentence wrapped onto the number's line does.
            break
        lines_up += 1
        previous_top = above.top
        role = last_role(in_column)
        if role and _FIRM_NAMED_ENTREPRISE_RE.match(in_column) and not _is_heading(in_column):
            # "ENTREPRISE DU VAL DE LOIRE": the firm's name, under its block's heading.
            fallback = fallback or RoleGuess(role, max(0.5, 0.95 - 0.06 * lines_up))
        elif role:
            if role == "titulaire" and public_body:
                # « Titulaire du contrat » over a commune: a utility's customer, the
                # buyer; a titulaire of a marché is a firm, never a public body.
                role = "recipient"
            return RoleGuess(role, max(0.5, 0.95 - 0.06 * lines_up))
        public_body = public_body or (in_block and bool(_PUBLIC_BODY_RE.search(in_column)))
        firm = firm or (in_block and bool(_FIRM_MENTION_RE.search(in_column)))
    if fallback is not None:
        return fallback
    if _among_routing_data(doc, line_index, start, cx1):
        return RoleGuess("recipient", 0.7)
    # Where the block starts, not the number: a letterhead line centred on the page
    # prints its SIRET right of the middle.
    block_x0, block_x1 = line.segment_x(context_start)
    by_position = _role_by_position(
        line, block_x0, block_x1, letterhead_right=letterhead_on_the_right(doc)
    )
    if public_body:
        # No heading, but the block names a public body: in B2G the buyer; more so in
        # the addressee's place on the page.
        return RoleGuess("recipient", 0.75 if by_position.role == "recipient" else 0.6)
    if firm and by_position.role == "recipient":
        # A block with a share capital or a registration is a firm's letterhead, even
        # on the right where an addressee would stand.
        return RoleGuess("supplier", 0.5, by_position=True)
    return by_position


#: The buyer's routing data besides its SIRET (domain.md: what Chorus Pro routes by).
_ROUTING_FIELDS = frozenset({"service_code", "engagement_number"})


#: A SIRET printed anywhere in a row: the row is a party's.
_SIRET_IN_ROW_RE = re.compile(r"(?<!\d)\d{3}\s?\d{3}\s?\d{3}\s?\d{5}(?!\d)")


def _row_role(line: Line) -> str | None:
    """A table of the parties, one per row, the role alone in the first cell (« MOA |
    Commune de … | 216 902 668 00013 »)."""
    if len(line.segments) < 3:
        return None
    first = line.original(*line.segments[0])
    return last_role(fold_text(first)) if _is_heading(first) else None


def _among_routing_data(doc: Doc, index: int, start: int, x1: float) -> bool:
    """A SIRET printed with the code service or the engagement number, in its cell or in
    the lines of its column just above and below ("Identifiant SIRET : …" over "Code
    service : …"), is the buyer's: those are the data a piece is routed by. Only a SIRET
    whose label opens its cell: one at the end of a letterhead's line of contact details
    is the letterhead's."""
    line = doc.lines[index]
    label = next((h for h in reversed(doc.hits[index]) if h.end <= start), None)
    if label is None or label.field != "siret":
        return False
    cell_start, cell_end = line.segment_of(label.start)
    if len(line.folded[cell_start : label.start].split()) > 1:
        return False
    if any(
        h.field in _ROUTING_FIELDS and cell_start <= h.start < cell_end for h in doc.hits[index]
    ):
        return True
    x0 = line.segment_x(cell_start)[0]
    for near in (index - 2, index - 1, index + 1, index + 2):
        if near not in doc.page_lines(index):
            continue
        other = doc.lines[near]
        for hit in doc.hits[near]:
            hx0, _, _, _ = other.box(hit.start, hit.end)
            # Not a wording as loose as « Vos références », a section's heading too.
            sure = hit.label.weight >= 0.5
            if hit.field in _ROUTING_FIELDS and sure and abs(hx0 - x0) < 6 and hx0 < x1:
                return True
    return False


def _in_column(doc: Doc, index: int, x0: float, x1: float) -> str:
    """The text of the cells of line ``index`` over the span from ``x0`` to ``x1``."""
    return " ".join(
        doc.lines[index].folded[s:e]
        for s, e, cx0, cx1 in doc.cells(index)
        if cx1 > x0 - 3 and cx0 < x1 + 3
    )


def _section_heading(doc: Doc, index: int, x0: float) -> str:
    """A numbered section heading alone on its line, left of ``x0`` ("A – IDENTIFICATION
    DE L'ÉMETTEUR"): it heads every column of its section."""
    line = doc.lines[index]
    if len(line.segments) != 1 or line.x0 > x0 + 3 or not _SECTION_NUMBER_RE.match(line.text):
        return ""
    return line.folded


#: What only a firm's own identity block prints: its share capital, its registration.
_FIRM_MENTION_RE = re.compile(r"\bau\s+capital\s+de\b|\brcs\b|\br\.c\.s\.|\b(?:ape|naf)\b")

#: A firm's name that opens with the word "Entreprise", not a heading.
_FIRM_NAMED_ENTREPRISE_RE = re.compile(r"\s*entreprise\s+(?!titulaire\b)[a-z]")

_PUBLIC_BODY_RE = re.compile(
    r"\b(?:commune|mairie|ville\s+de|departement|conseil\s+(?:departemental|regional)|region|"
    r"prefecture|centre\s+hospitalier|chu\b|universite|college|lycee|"
    r"etat\b(?!\s+(?:d'acompte|des?\b|du\b|recapitulatif))|ministere|"
    r"direction\s+(?:generale|regionale|departementale)|office\s+public|syndicat\s+mixte|"
    r"communaute\s+(?:de\s+communes|d'agglomeration|urbaine)|metropole|etablissement\s+public|"
    r"rectorat|oph\b|ccas\b|sdis\b)"
)


def overlaps(box: tuple[float, float, float, float], x0: float, x1: float) -> bool:
    return box[2] > x0 - 3 and box[0] < x1 + 3


def last_role(text: str) -> str | None:
    best: tuple[int, str] | None = None
    for role, pattern in _ROLE_PATTERNS:
        for match in pattern.finditer(text):
            if best is None or match.start() > best[0]:
                best = (match.start(), role)
    return best[1] if best else None


def _role_by_position(
    line: Line, x0: float, x1: float, *, letterhead_right: bool = False
) -> RoleGuess:
    """Whose block it is by where it stands: the addressee's window faces the letterhead
    (on the right of a letterhead on the left; on the left of one on the right, as a
    narrow block: a line running past the middle is the letterhead's contact details)."""
    page = line.page
    if line.top > 0.85 * page.height:
        return RoleGuess("supplier", 0.65, by_position=True)  # the issuer's legal footer
    if page.number == 1 and line.bottom < 0.35 * page.height:
        window = x1 < 0.55 * page.width if letterhead_right else x0 >= 0.45 * page.width
        if window:
            return RoleGuess("recipient", 0.4, by_position=True)  # the addressee block
        return RoleGuess("supplier", 0.5, by_position=True)  # the letterhead
    return RoleGuess("supplier", 0.3, by_position=True)


MONTHLY_BY_MOE = (DocumentKind.ETAT_ACOMPTE, DocumentKind.ETAT_ACOMPTE_VALIDE)


def issuer_of(headed: set[str], kind: DocumentKind | None) -> str:
    """Who issued a works piece that names the paid firm in a block of its own: the
    party that has no block (the MOE when the MOA has one, the MOA when the MOE has)."""
    has_moa = bool(headed & {"moa", "recipient"})
    if has_moa and "moe" not in headed:
        return "moe"
    if "moe" in headed and not has_moa:
        return "moa"
    return "moe" if kind is DocumentKind.ETAT_ACOMPTE else "issuer"


def paid_roles(kind: DocumentKind | None) -> set[str]:
    """The roles that may be the firm being paid (DESIGN 4.1: on a subcontractor's payment
    request, the subcontractor, not the titulaire)."""
    if kind is DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT:
        return {"supplier", "subcontractor"}
    return {"supplier", "subcontractor", "titulaire"}


_NAME_BLOCKERS = re.compile(
    # Whole words: "VALLÉES" holds "allee", "Maillard" holds "mail".
    r"siret|siren|\btva\b|\btel\b|telephone|\bfax\b|\be-?mail\b|courriel|@|www\.|http|"
    r"iban|\bbic\b|\brue\b|\bavenue\b|\bav\.|\bboulevard\b|\bbd\b|\bchemin\b|\ballee\b|"
    r"\bplace\b|\bimpasse\b|\broute\b|cedex|"
    r"\b\d{5}\b|\bbp\s*\d|n\s?°|\bcode\b|facture|\bdate\b|\bpage\b|\bref|capital|\brcs\b|siege|"
    r"numero|adresse|livraison|delivery|address|contact|objet|\bperiode\b|montant|total|"
    # The labels of a piece's other references ("DEVIS", "COMMANDE DU", "RÉF. CLIENT").
    r"\bdevis\b|\bcommande\b|\bclient\b|echeance|\breglement\b|"
    # An item table's headings.
    r"\bdesignation\b|\blibelle\b|\bquantite\b|"
    # A form box's caption over the name (« DÉNOMINATION | SIRET »).
    r"\bdenomination\b|raison\s+sociale|"
    # A signature box's wording (« BON POUR ACCORD », « Date, cachet et signature »).
    r"\bbon\s+pour\b|lu\s+et\s+approuve|\bcachet\b|\bsignature|"
    # A form's frame heading ("A – IDENTIFICATION DE L'ÉMETTEUR") whose letter OCR
    # printed apart.
    r"\bidentification\b|\bemetteur\b|"
    r"\w\s*:\s*\w"  # « label : value »
)
#: Formes juridiques as printed after (or before) a firm's name.
_LEGAL_FORMS = r"sas|sasu|sarl|eurl|sa|snc|scop|sci|sca|selarl|gie"
_LEGAL_FORM = re.compile(
    rf"\b(?:{_LEGAL_FORMS}|ets|etablissements|entreprise|societe|groupe|&\s*fils|cie)\b"
)
_TITLE_WORDS = re.compile(
    r"\b(?:facture|avoir|decompte|etat|projet|demande|situation|releve|duplicata|original|"
    r"invoice|credit\s+note)s?\b"
)


def _clean_name(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip(" \t:-–,;").strip())


def _name_ok(text: str) -> bool:
    folded = fold_text(text)
    letters = sum(c.isalpha() for c in text)
    return (
        letters >= 3
        and not text[:1].isdigit()
        and not _NAME_BLOCKERS.search(folded)
        and not _SECTION_NUMBER_RE.match(text)
        and letters >= 0.6 * len(text.replace(" ", ""))
    )


#: A section heading's number: "D – DÉTAIL DE LA FACTURATION", "II. Montants".
_SECTION_NUMBER_RE = re.compile(r"(?:[A-Z]\s*[–—)-]|[IVX]{2,4}\s*\.)\s")


@dataclass(frozen=True)
class NameCandidate:
    value: str
    confidence: float
    line: int
    start: int
    end: int


_ADDRESSEE_MARK_RE = re.compile(r"\s*[Àà]\s*:?\s*")


def _heading_names(doc: Doc, skip: frozenset[int] = frozenset()) -> dict[str, list[NameCandidate]]:
    """Names under (or after) a party heading (``Client :`` then the name), by role.
    Lines in ``skip`` are a letterhead's tagline, not a heading."""
    found: dict[str, list[NameCandidate]] = defaultdict(list)
    for index, line in enumerate(doc.lines):
        for s, e in line.segments:
            # « À » alone over the addressee's box (« De » | « À »); with its accent, as OCR
            # reads a frame heading's set-apart letter « A » without one.
            if index not in skip and _ADDRESSEE_MARK_RE.fullmatch(line.original(s, e)):
                found["recipient"].extend(_name_below(doc, index, s, e))
        if index in skip or not _ANY_ROLE_RE.search(line.folded):
            continue
        for role, pattern in _ROLE_PATTERNS:
            for match in pattern.finditer(line.folded):
                found[role].extend(_name_after(doc, index, match.start(), match.end(), role))
    return found


def _tagline(doc: Doc, letterhead: NameCandidate | None) -> tuple[str | None, frozenset[int]]:
    """A role printed right under the letterhead name ("COMMUNE DE X" / "Maître
    d'ouvrage"): whose letterhead it is, and the lines that say it."""
    if letterhead is None:
        return None, frozenset()
    top = doc.lines[letterhead.line]
    x0, _, x1, _ = top.box(letterhead.start, letterhead.end)
    for index in range(letterhead.line + 1, min(letterhead.line + 3, len(doc.lines))):
        line = doc.lines[index]
        if line.page.number != top.page.number or line.top - top.bottom > 3 * top.height:
            break
        for s, e in line.segments:
            # Under the name, in its column: an addressee block beside it is not a tagline.
            if not overlaps(line.box(s, e), x0, x1) or not _is_heading(line.original(s, e)):
                continue
            role = last_role(line.folded[s:e])
            if role in ("moa", "moe", "recipient"):
                return role, frozenset({index})
    # Or the numbered heading of the name's section, over it: « A – IDENTIFICATION DE
    # L'ÉMETTEUR – MAÎTRE D'ŒUVRE » (past the box's caption, on a form).
    for index in range(letterhead.line - 1, max(-1, letterhead.line - 3), -1):
        line = doc.lines[index]
        if line.page.number != top.page.number or top.top - line.bottom > 3 * top.height:
            break
        if index in doc.caption_lines:
            continue
        role = last_role(_section_heading(doc, index, x0))
        if role in ("moa", "moe", "recipient"):
            return role, frozenset({index})
        break
    return None, frozenset()


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
    # A bilingual heading's gloss: « FACTURÉ À / BILL TO », « Client / Customer ».
    gloss = re.match(r"\s*/\s*[a-z' ]{1,25}?(?=\s*(?::|$))", line.folded[end:seg_end])
    end += gloss.end() if gloss else 0
    after = line.folded[end:seg_end]
    colon = re.match(r"\s*(?:\([^)]{0,20}\))?[a-z' ]{0,25}?\s*:\s*", after)
    if colon and after[colon.end() :].strip():
        name = _first_chunk(line, end + colon.end(), seg_end)
        if name is None or role == "moe":
            return []
        return [NameCandidate(name[0], 0.6, index, name[1], name[2])]
    following = [(s, e) for s, e in line.segments if s >= seg_end]
    # A row of a table of the parties: the role alone in the first cell, then the name.
    role_row = (
        seg_start == 0
        and _row_role(line) is not None
        and bool(_SIRET_IN_ROW_RE.search(line.folded))
    )
    if (colon or role_row) and following and role != "moe":
        # « Entité publique : » ending its cell, the name in the next one.
        name = _first_chunk(line, *following[0])
        if name is not None and not _is_heading(name[0]):
            return [NameCandidate(name[0], 0.6, index, name[1], name[2])]
    rest = re.sub(r"\([^)]*\)", "", after).strip(" :")
    # "Entreprise titulaire", "Maître d'ouvrage (MOA)": a heading of a few words, the
    # name below; anything longer is a sentence.
    if len(rest.split()) > 2 or any(c.isdigit() for c in rest):
        return []
    if not _is_heading(line.original(seg_start, seg_end)):
        return []  # « Entreprise Fabre »: a name with a role word, no heading
    return _name_below(doc, index, start, end)


def _name_below(doc: Doc, index: int, start: int, end: int) -> list[NameCandidate]:
    """The first line under a heading that stands alone, in its column; or, on a form
    that prints its captions under the boxes, the first line of the box over it
    ("DESTINATAIRE" under the addressee's box)."""
    line = doc.lines[index]
    hx0, _, hx1, _ = line.box(start, end)
    box = doc.boxes_over_captions.get(index)
    for near in range(index + 1, doc.page_lines(index).stop) if box is None else box:
        other = doc.lines[near]
        if box is None and other.top - line.bottom > 3 * max(line.height, other.height):
            return []
        for s, e in other.segments:
            if overlaps(other.box(s, e), hx0, hx1 + 60):
                if _holds_label(doc, near, s, e):
                    return []  # « Vos références » over a list of labelled values
                name = _first_chunk(other, s, e)
                if name is None or _is_heading(name[0]):
                    return []
                text = name[0] + _continuation(doc, near, other.box(s, e)[0], name[0])
                return [NameCandidate(text, 0.55, near, name[1], name[2])]
    return []


def _has_heading(doc: Doc, role: str) -> bool:
    """A block heading of ``role`` somewhere ("MAÎTRE D'ŒUVRE" over the MOE's address)."""
    pattern = dict(_ROLE_PATTERNS)[role]
    return any(
        _is_heading(line.original(s, e)) and last_role(line.folded[s:e]) == role
        for line in doc.lines
        if pattern.search(line.folded)
        for s, e in line.segments
    )


def _is_heading(text: str) -> bool:
    """A block heading ("ENTREPRISE TITULAIRE", "MAÎTRE D'ŒUVRE", "Titulaire du
    marché"), not a name that holds a role word ("Entreprise du Littoral")."""
    folded = fold_text(text)
    if folded.startswith("ministere"):
        return False
    words = re.findall(r"[a-z']+", folded)
    return len(words) <= 4 and last_role(folded) is not None and _only_role_words(text)


_LEGAL_FORM_EDGE = re.compile(
    rf"^(?:{_LEGAL_FORMS})\b[\s,-]*|[\s,-]*\b(?:{_LEGAL_FORMS})\.?$",
    re.IGNORECASE,
)


def _only_legal_form(text: str) -> bool:
    return re.fullmatch(rf"\s*(?:{_LEGAL_FORMS})\.?\s*", text, re.IGNORECASE) is not None


def strip_legal_form(name: str) -> str:
    """The raison sociale without its forme juridique ("Au bon moulin SARL" -> "Au bon
    moulin"), as the company registers (and the deposit form) give it."""
    stripped = _LEGAL_FORM_EDGE.sub("", name).strip()
    return stripped if sum(c.isalpha() for c in stripped) >= 3 else name


#: Words that carry a name on: a cell opening with one continues the cell before it
#: ("DÉPARTEMENT" | "DU HAUT-VALLON", a wide word space OCR took for a column break).
_CARRIES_ON_RE = re.compile(r"(?:du|de|des|d'|la|le|les|et|&|sur|en)\b")


def _first_chunk(line: Line, start: int, end: int) -> tuple[str, int, int] | None:
    """The name at the start of a span, cut at " - ", " | " or a comma (a letterhead line
    often goes on with the address), if it looks like a name."""
    following = next(((s, e) for s, e in line.segments if s > end), None)
    if (
        following is not None
        and end == line.segment_of(start)[1]
        and _CARRIES_ON_RE.match(line.folded, following[0])
        and not any(c.isdigit() for c in line.folded[following[0] : following[1]])
        and line.box(*following)[0] - line.box(start, end)[2] < 3 * line.height
    ):
        end = following[1]
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
    """The issuer's name: at the top of page 1, the one the legal footer opens with (then
    surer); else the first plausible line on the left, where letterheads usually start;
    else the largest plausible text."""
    tops = list(_top_names(doc))
    footer = _footer_name(doc)
    if footer is not None:
        key = _name_key(footer.value)
        for _, _, candidate in tops:
            if _name_key(candidate.value) == key:
                return replace(candidate, confidence=0.7)
        initials = _initials(footer.value)
        for _, _, candidate in tops:
            if len(initials) >= 2 and fold_text(candidate.value).replace(" ", "") == initials:
                # A monogram over the letterhead (« ÉGF »): the name it stands for, as
                # the letterhead prints it, else as the footer does.
                spelt = (
                    c for _, _, c in tops if c is not candidate and _initials(c.value) == initials
                )
                return replace(next(spelt, footer), confidence=0.6)
    left = [candidate for _, x0, candidate in tops if x0 <= 0.5 * doc.lines[0].page.width]
    if left:
        first = left[0]
        monogram = fold_text(first.value).replace(" ", "")
        if 2 <= len(monogram) <= 4:
            # A logo's initials over the name they stand for (« DHV » over « DÉPARTEMENT
            # DU HAUT-VALLON »): the name.
            spelt = (c for c in left[1:] if _abbreviates(monogram, c.value))
            return next(spelt, first)
        return first
    if tops:
        return max(tops, key=lambda found: found[0])[2]
    return footer


_SMALL_WORDS_RE = re.compile(r"^(?:de|du|des|la|le|les|et|en|sur|aux|au|d|l)$")


def _initials_variants(name: str) -> set[str]:
    """The ways a logo abbreviates a name: every capitalised word's initial, or those of
    its main words with hyphenated parts apart (« Département du Haut-Vallon »: dhv)."""
    words = [w for w in re.split(r"[\s'’-]+", fold_text(name)) if w]
    main = "".join(w[0] for w in words if not _SMALL_WORDS_RE.match(w) and w[0].isalpha())
    return {_initials(name), main}


def _abbreviates(monogram: str, name: str) -> bool:
    """``monogram`` is the name's initials, or the first three or more of them."""
    return any(
        v == monogram or (len(monogram) >= 3 and v.startswith(monogram))
        for v in _initials_variants(name)
    )


def _initials(name: str) -> str:
    """The initials of a name's capitalised words, folded ("Éts Giraud et Fils": "egf")."""
    return fold_text("".join(word[0] for word in name.split() if word[0].isupper()))


def _top_names(doc: Doc) -> Iterator[tuple[float, float, NameCandidate]]:
    """Plausible names at the top of page 1 with their text height and left edge: not
    titles, labels or the values beside and under them, block headings or the lines of a
    headed block (an addressee)."""
    for index, line in enumerate(doc.lines):
        page = line.page
        if page.number != 1 or line.top > 0.25 * page.height:
            return
        previous: tuple[int, int] | None = None
        for s, e in line.segments:
            x0, top, _, bottom = line.box(s, e)
            after_label = previous is not None and _holds_label(doc, index, *previous)
            previous = (s, e)
            if (
                after_label
                or (s > 0 and _CARRIES_ON_RE.match(line.folded, s))  # a name's second half
                or _is_title(line.folded[s:e])
                or _SECTION_TITLE_RE.fullmatch(line.folded[s:e].strip())
                or _is_heading(line.original(s, e))
                or _holds_label(doc, index, s, e)
                or _in_headed_block(doc, index, s, e)
            ):
                continue
            name = _first_chunk(line, s, e)
            if name is None:
                continue
            text = name[0] + _continuation(doc, index, x0, name[0])
            if not _could_open_letterhead(line, text, name[1], name[2]):
                continue
            if _only_legal_form(text):
                continue  # "SASU" alone: the end of a name cut by OCR, not a name
            confidence = 0.45 + (0.15 if _LEGAL_FORM.search(fold_text(name[0])) else 0.0)
            yield bottom - top, x0, NameCandidate(text, confidence, index, name[1], name[2])


#: The title of a section of the piece (« DÉTAIL », « RÉCAPITULATIF », « CONDITIONS ET
#: MENTIONS »), which a sparse top of page can bring near the letterhead's place.
_SECTION_WORD = (
    r"detail|recapitulatif|observations?|conditions|mentions|references|prestations|"
    r"synthese|intervenants|montants|totaux|reglement|paiement|signatures?|annexes?"
)
_SECTION_TITLE_RE = re.compile(rf"(?:{_SECTION_WORD})(?:\s+(?:et|des|du|de\s+la)\s+\w+)?")


def _is_title(folded: str) -> bool:
    """A document title, also when OCR splits its spaced-out letters ("FACTU RE")."""
    compact = re.sub(r"[^a-z]", "", folded)
    return bool(_TITLE_WORDS.search(folded) or _TITLE_WORDS.fullmatch(compact))


def _holds_label(doc: Doc, index: int, start: int, end: int) -> bool:
    """A field's label (or another number's) is inside the span: "Service exécutant",
    "Bon de livraison" in a key/value grid are no firm's name."""
    return any(hit.start < end and hit.end > start for hit in doc.hits[index])


def _could_open_letterhead(line: Line, text: str, start: int, end: int) -> bool:
    """A raison sociale starts with a capital or a digit and does not end on a word that
    leads to a value ("Commande du", "Paiement au plus tard le"); OCR noise read as
    letters ("rérebe") has a low reader confidence."""
    if not (text[:1].isupper() or text[:1].isdigit()) or _only_role_words(text):
        return False
    if _DANGLING_RE.search(fold_text(text)):
        return False
    return line.page.source is not FieldSource.OCR or line.confidence(start, end) >= 0.5


def _only_role_words(text: str) -> bool:
    """A heading with nothing else ("DESTINATAIRE", "ENTREPRISE TITULAIRE"), unlike a
    name that holds a role word ("Entreprise Vasseur")."""
    rest = fold_text(text)
    for _, pattern in _ROLE_PATTERNS:
        rest = pattern.sub(" ", rest)
    return not re.sub(rf"\b(?:{_HEADING_FILLERS})\b|[^a-z]", "", rest)


#: Words a block heading may hold beside its role: "Titulaire du marché", "Maître
#: d'ouvrage délégué", "Coordonnées du client".
_HEADING_FILLERS = (
    r"de|du|des|la|le|les|l|d|marche|travaux|lot|principal|delegue|coordonnees|adresse|"
    r"informations|identite|contrat|abonnement"
)


def _in_headed_block(doc: Doc, index: int, start: int, end: int) -> bool:
    """The span is a line of a block whose heading (or a label) is above it: the block's
    lines follow each other closely in one column up to the heading ("DESTINATAIRE" / the
    addressee / its department; "Code service" / its code)."""
    line = doc.lines[index]
    x0, _, x1, _ = line.box(start, end)
    below = line
    for above in range(index - 1, max(index - 6, -1), -1):
        other = doc.lines[above]
        if other.page.number != line.page.number or below.top - other.bottom > 2 * below.height:
            return False
        column = [(s, e) for s, e in other.segments if overlaps(other.box(s, e), x0, x1)]
        if not column:
            continue
        if _is_heading(other.original(*column[0])) or _holds_label(doc, above, *column[0]):
            return True  # a block heading, or a label with its value below it
        if abs(other.box(*column[0])[0] - x0) > 6:
            return False  # another block's text, not this block's line
        below = other
    return False


#: The mentions légales open with the firm's name: « X – SAS au capital de … – RCS … ».
_FOOTER_NAME_RE = re.compile(
    rf"^(?P<name>.{{3,80}}?)\s*(?:[-–|,]\s*)?(?:(?:{_LEGAL_FORMS})\s+)?"
    r"(?:au\s+capital|[-–|,]\s*(?:rcs|siret|siren)\b)"
)


def _footer_name(doc: Doc) -> NameCandidate | None:
    """The name the legal footer opens with (a guess on its own): on page 1, else on the
    last page, where a multi-page piece often prints it."""
    last = max((line.page.number for line in doc.lines), default=1)
    for page_number in dict.fromkeys((1, last)):
        found = _footer_name_on(doc, page_number)
        if found is not None:
            return found
    return None


def _footer_name_on(doc: Doc, page_number: int) -> NameCandidate | None:
    for index, line in enumerate(doc.lines):
        if line.page.number != page_number or line.top < 0.75 * line.page.height:
            continue
        for s, e in line.segments:
            match = _FOOTER_NAME_RE.match(line.folded[s:e])
            if match is None and s == 0:
                # OCR may cut the footer into cells (« X EURL | EURL | au capital … »).
                match = _FOOTER_NAME_RE.match(line.folded.replace("\t", " "))
                if match is not None and match.end("name") > e:
                    match = None
            if match is None:
                continue
            name = _first_chunk(line, s, s + match.end("name"))
            # "SASU au capital de …" under the name: a legal form is not a name.
            if name is not None and not _only_legal_form(name[0]):
                return NameCandidate(name[0], 0.45, index, name[1], name[2])
    return None


def _name_key(name: str) -> str:
    """A name without its formes juridiques and punctuation, to compare two printings of
    it ("PAPETERIE LEFÈVRE SCOP – SCOP" in a footer that goes on "SARL au capital")."""
    key = re.sub(r"\W+", " ", fold_text(name)).strip()
    while (stripped := strip_legal_form(key)) != key:
        key = stripped
    return key


#: A name line ending on one of these goes on below ("COMMUNAUTÉ DE COMMUNES DU PAYS DE"
#: / "STRASBOURG").
_DANGLING_RE = re.compile(r"\b(?:de|du|des|la|le|les|et|en|sur|d'|l'|&|-)$")


def _continuation(doc: Doc, index: int, x0: float, name: str = "") -> str:
    """A name wrapped onto the next line, in the same column with no gap: letters only,
    same size and in capitals ("ÉLAGAGE & ESPACES" / "VERTS DU GARD"), or whatever its
    size when the first line ends on a word that cannot end a name ("… DU PAYS DE").
    The column is the same left edge, or the same right edge in a right-aligned block."""
    line = doc.lines[index]
    # Sizes of the name's own cells: a block beside it may be printed smaller.
    own = next((line.box(*seg) for seg in line.segments if abs(line.box(*seg)[0] - x0) < 6), None)
    x1 = own[2] if own else None

    def in_column(box: tuple[float, float, float, float], tolerance: float) -> bool:
        return abs(box[0] - x0) < tolerance or (x1 is not None and abs(box[2] - x1) < tolerance)

    nxt = next(
        (
            doc.lines[i]
            for i in range(index + 1, min(index + 4, len(doc.lines)))
            if doc.lines[i].page.number == line.page.number
            and any(in_column(doc.lines[i].box(s, e), 6) for s, e in doc.lines[i].segments)
        ),
        None,
    )
    if nxt is None:
        return ""
    first = next(seg for seg in nxt.segments if in_column(nxt.box(*seg), 6))
    _, ntop, _, nbottom = nxt.box(*first)
    text = _clean_name(nxt.original(*first))
    # OCR boxes hug the glyphs (an accent makes a word taller): looser tolerances.
    ocr = line.page.source is FieldSource.OCR
    height = own[3] - own[1] if own else line.height
    same_size = abs((nbottom - ntop) - height) <= (0.35 if ocr else 0.1) * height
    close = nxt.top - line.bottom < (0.9 if ocr else 0.6) * line.height
    aligned = in_column(nxt.box(*first), 6 if ocr else 2)
    if not (close and aligned and _name_ok(text)) or _is_heading(text):
        return ""
    dangling = bool(_DANGLING_RE.search(fold_text(name or line.original(*line.segments[0]))))
    if dangling or (same_size and text.isupper()):
        return " " + text
    return ""


def _doc_letterhead(doc: Doc) -> NameCandidate | None:
    """``_letterhead_name`` of the document, found once: the roles of every number of the
    page and the names ask for it. Kept in the document's ``__dict__``, as
    ``functools.cached_property`` does."""
    if "_letterhead" not in doc.__dict__:
        doc.__dict__["_letterhead"] = _letterhead_name(doc)
    letterhead: NameCandidate | None = doc.__dict__["_letterhead"]
    return letterhead


def letterhead_on_the_right(doc: Doc) -> bool:
    """The issuer's letterhead stands on the right of page 1 (its addressee on the left):
    the positions of the usual layout, mirrored."""
    letterhead = _doc_letterhead(doc)
    if letterhead is None:
        return False
    line = doc.lines[letterhead.line]
    return bool(line.box(letterhead.start, letterhead.end)[0] >= 0.45 * line.page.width)


def _window_name(doc: Doc) -> NameCandidate | None:
    """The addressee's name when no heading names it: the first line of an address block
    (a block that ends with a postcode) in the upper part of page 1 on the side facing
    the letterhead (the right, where the envelope window usually is). A guess: low
    confidence."""
    letterhead = _doc_letterhead(doc)
    right = letterhead_on_the_right(doc)
    for index, line in enumerate(doc.lines):
        page = line.page
        if page.number != 1 or line.top > 0.4 * page.height:
            return None
        for s, e in line.segments:
            x0, _, _, _ = line.box(s, e)
            if (x0 < 0.45 * page.width) != right or _TITLE_WORDS.search(line.folded[s:e]):
                continue
            if letterhead is not None and (index, s) == (letterhead.line, letterhead.start):
                continue
            if _COURTESY_RE.match(line.folded, s):
                continue  # « Monsieur le Maire »: the body's name is on the next line
            name = _first_chunk(line, s, e)
            if name is not None and not _is_heading(name[0]) and _postcode_below(doc, index, x0):
                text = name[0] + _continuation(doc, index, x0, name[0])
                return NameCandidate(text, 0.4, index, name[1], name[2])
    return None


#: The courtesy line a letter's address may open with, before the addressee's name.
_COURTESY_RE = re.compile(r"\s*(?:monsieur|madame|mme|mr|m\.)\s")


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


def name_fields(doc: Doc, kind: DocumentKind | None) -> dict[str, ExtractedField]:
    letterhead = _doc_letterhead(doc)
    tagline, tagline_lines = _tagline(doc, letterhead)
    headed = _heading_names(doc, tagline_lines)
    issuer_box = max(headed["issuer"], key=lambda n: n.confidence, default=None)
    if issuer_box is not None and (
        letterhead is None or letterhead.confidence <= issuer_box.confidence
    ):
        letterhead = issuer_box  # the box headed « Émetteur » is the letterhead
    paid = paid_roles(kind)
    recipients = headed["recipient"] + headed["moa"]
    # A public body headed « Titulaire du contrat » is the buyer (see ``party_role``).
    public_holders = [n for n in headed["titulaire"] if _PUBLIC_BODY_RE.search(fold_text(n.value))]
    recipients += public_holders
    titulaires = (
        [n for n in headed["titulaire"] if n not in public_holders] if "titulaire" in paid else []
    )
    suppliers = headed["subcontractor"] or (headed["supplier"] + titulaires)
    if letterhead:
        issuer = _letterhead_role(doc, letterhead, tagline, headed, kind)
        if issuer == "supplier":
            suppliers.append(letterhead)
        elif issuer in ("moa", "recipient"):
            recipients.append(replace(letterhead, confidence=0.55 if tagline else 0.5))
    if not recipients:
        window = _window_name(doc)
        if window and all(window.value != n.value for n in suppliers):
            recipients = [window]
    recipient = max(recipients, key=lambda n: n.confidence, default=None)
    supplier = max(
        (n for n in suppliers if recipient is None or n.value != recipient.value),
        key=lambda n: n.confidence,
        default=None,
    )
    result: dict[str, ExtractedField] = {}
    for name, pick in (("supplier_name", supplier), ("recipient_name", recipient)):
        if pick is None or pick.confidence < MIN_CONFIDENCE:
            result[name] = ExtractedField()
            continue
        value = strip_legal_form(_completed(doc, pick.value))
        # A name has no checksum: it stays under the "sure" threshold.
        confidence = min(pick.confidence, _MAX_NAME_CONFIDENCE)
        result[name] = extracted(doc, value, confidence, pick.line, pick.start, pick.end)
    return result


def _letterhead_role(
    doc: Doc,
    letterhead: NameCandidate,
    tagline: str | None,
    headed: dict[str, list[NameCandidate]],
    kind: DocumentKind | None,
) -> str:
    """Whose letterhead it is. Its tagline says so; else a works piece that names the
    titulaire in a block (or an état d'acompte) was issued by the MOE or the MOA (see
    ``issuer_of``), and a public body's name is the MOA's; else the supplier's."""
    if tagline is not None:
        return tagline
    # The firm in a block of its own ("Titulaire", or "Entreprise" under another name
    # than the letterhead's): the letterhead is someone else's.
    firm_elsewhere = bool(headed["titulaire"]) or any(
        _name_key(n.value) != _name_key(letterhead.value) for n in headed["supplier"]
    )
    by_others = kind in MONTHLY_BY_MOE or (
        kind is not None
        and kind.is_works_piece
        and kind is not DocumentKind.DEMANDE_PAIEMENT_SOUS_TRAITANT
        and firm_elsewhere
    )
    if not by_others:
        return "supplier"
    blocks = {"moe"} if headed["moe"] or _has_heading(doc, "moe") else set()
    if headed["moa"] or headed["recipient"]:
        blocks.add("moa")
    issuer = issuer_of(blocks, kind)
    if issuer == "issuer" and _PUBLIC_BODY_RE.search(fold_text(letterhead.value)):
        return "moa"
    return issuer


#: Free text without a check (names) never reaches the confidence of a checked value.
_MAX_NAME_CONFIDENCE = 0.85


def _completed(doc: Doc, name: str) -> str:
    """A name the layout cut short ("DIRECTION GÉNÉRALE DES FINANCES…") in full, from
    another line that starts with it (the legal footer repeats the issuer's name)."""
    if not name.endswith(("…", "...")):
        return name
    stem = name.rstrip(".… ")
    folded_stem = fold_text(stem)
    for line in doc.lines:
        for s, e in line.segments:
            if line.folded.startswith(folded_stem, s) and len(line.folded[s:e]) > len(stem):
                full = _first_chunk(line, s, e)
                if full and not full[0].endswith(("…", "...")) and len(full[0]) > len(stem):
                    return full[0]
    return stem
