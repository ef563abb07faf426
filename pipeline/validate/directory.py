"""The annuaire des structures publiques: loader for its CSV export, and lookups.

The export is two files (domain.md 3.2 and 3.3): structures and services, ``;``-separated,
UTF-8 (a BOM is accepted), one header line, booleans ``true``/``false``. Headers are
matched case-, accent-, space-, apostrophe- and underscore-insensitively, so both the
CSV-era names (``GestionServiceEngagement``) and human-readable ones (« Gestion service ou
engagement ») load. Rows are taken as published: identifiers stay strings, SIRETs that lost
their leading zeros (an XLSX round trip) are re-padded, rows failing the SIRET checksum are
kept (the real directory holds some, domain.md 3.1) and inactive rows are kept, flagged.

A directory file that cannot be loaded is the operator's problem to fix, so every defect
raises :class:`pipeline.errors.UsageError` naming the file, the line and what is wrong.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path

from pydantic import Field

from pipeline.errors import UsageError
from pipeline.models import Frozen, MoaSetting

# --------------------------------------------------------------------------- models


class Requirement(StrEnum):
    """What a structure demands from the supplier, derived as OCA does (domain.md 3.4 §5)."""

    NONE = "none"
    SERVICE = "service"
    ENGAGEMENT = "engagement"
    SERVICE_AND_ENGAGEMENT = "service_and_engagement"
    SERVICE_OR_ENGAGEMENT = "service_or_engagement"


class Structure(Frozen):
    """One row of the structures file."""

    identifier_type: int = Field(
        ge=1,
        le=6,
        description="TypeIdentifiant: 1 SIRET, 2 UE hors France, 3 hors UE, 4 RIDET, "
        "5 TAHITI, 6 autre.",
    )
    identifier: str = Field(description="Identifiant; a SIRET is re-padded to 14 digits.")
    name: str = Field(description="RaisonSociale.")
    emits_edi: bool = Field(description="EmetteurEdi: the structure sends by EDI.")
    receives_edi: bool = Field(description="RecepteurEdi: it can receive data by EDI.")
    payment_status_hidden: bool = Field(
        description="GestionStatutMiseEnPaiement (polarity unconfirmed, domain.md 5.2)."
    )
    engagement_required: bool = Field(description="GestionEngagement: engagement number required.")
    service_required: bool = Field(description="GestionService: code service required.")
    service_or_engagement_required: bool = Field(
        description="GestionServiceEngagement: a code service or an engagement number required."
    )
    is_moa: bool = Field(description="EstMOA: structure « avec MOA ».")
    is_moa_only: bool = Field(description="EstMOAUniquement: structure « exclusivement MOA ».")
    active: bool = Field(description="StructureActive.")
    postcode: str | None = Field(default=None, description="CodePostal.")
    city: str | None = Field(default=None, description="Ville.")
    country_code: str | None = Field(default=None, description="CodePays.")

    @property
    def moa_setting(self) -> MoaSetting:
        """« Présence MOA » of the fiche structure (domain.md 5.2)."""
        if self.is_moa_only:
            return MoaSetting.EXCLUSIVEMENT_MOA
        if self.is_moa:
            return MoaSetting.AVEC_MOA
        return MoaSetting.SANS_MOA

    @property
    def requirement(self) -> Requirement:
        """The routing-data requirement, with OCA's precedence: the « service ou
        engagement » flag overrides the two separate ones."""
        if self.service_or_engagement_required:
            return Requirement.SERVICE_OR_ENGAGEMENT
        if self.service_required and self.engagement_required:
            return Requirement.SERVICE_AND_ENGAGEMENT
        if self.service_required:
            return Requirement.SERVICE
        if self.engagement_required:
            return Requirement.ENGAGEMENT
        return Requirement.NONE


class Service(Frozen):
    """One row of the services file."""

    structure_identifier: str = Field(description="Identifiant of the structure it belongs to.")
    code: str = Field(description="Code service, as the supplier must give it.")
    name: str = Field(description="Nom (libellé) of the service.")
    engagement_required: bool = Field(description="GestionEGMT: engagement number required.")
    active: bool = Field(description="ServiceActif.")


class Directory:
    """An in-memory annuaire: structures by identifier, services by (identifier, code)."""

    def __init__(self, structures: Iterable[Structure], services: Iterable[Service] = ()) -> None:
        self._structures: dict[str, Structure] = {}
        self._services: dict[tuple[str, str], Service] = {}
        self._services_of: dict[str, list[Service]] = {}
        for structure in structures:
            if structure.identifier in self._structures:
                raise ValueError(f"structure {structure.identifier} given twice")
            self._structures[structure.identifier] = structure
        for service in services:
            key = (service.structure_identifier, service.code)
            if key in self._services:
                raise ValueError(f"service {service.code} of {service.structure_identifier} twice")
            self._services[key] = service
            self._services_of.setdefault(service.structure_identifier, []).append(service)

    def structure(self, identifier: str) -> Structure | None:
        return self._structures.get("".join(identifier.split()))

    def service(self, identifier: str, code: str) -> Service | None:
        return self._services.get(("".join(identifier.split()), code.strip()))

    def services_of(self, identifier: str) -> tuple[Service, ...]:
        """The services of a structure, in file order (inactive ones included)."""
        return tuple(self._services_of.get("".join(identifier.split()), ()))

    @property
    def structures(self) -> tuple[Structure, ...]:
        return tuple(self._structures.values())

    @property
    def services(self) -> tuple[Service, ...]:
        return tuple(self._services.values())

    @property
    def structure_count(self) -> int:
        return len(self._structures)

    @property
    def service_count(self) -> int:
        return len(self._services)

    def __repr__(self) -> str:
        return f"Directory({self.structure_count} structures, {self.service_count} services)"


# --------------------------------------------------------------------------- headers

#: Canonical column name -> normalised header spellings that mean it.
_STRUCTURE_COLUMNS: dict[str, tuple[str, ...]] = {
    "TypeIdentifiant": ("typeidentifiant", "typedidentifiant", "typedelidentifiant"),
    "Identifiant": ("identifiant",),
    "RaisonSociale": ("raisonsociale",),
    "EmetteurEdi": ("emetteuredi",),
    "RecepteurEdi": ("recepteuredi",),
    "GestionStatutMiseEnPaiement": (
        "gestionstatutmiseenpaiement",
        "gestiondustatutdemiseenpaiement",
    ),
    "GestionEngagement": ("gestionengagement", "gestiondelengagement"),
    "GestionService": ("gestionservice", "gestionduservice"),
    "GestionServiceEngagement": ("gestionserviceengagement", "gestionserviceouengagement"),
    "EstMOA": ("estmoa",),
    "EstMOAUniquement": ("estmoauniquement",),
    "StructureActive": ("structureactive",),
    "CodePostal": ("codepostal",),
    "Ville": ("ville",),
    "CodePays": ("codepays",),
}
_STRUCTURE_REQUIRED = (
    "TypeIdentifiant",
    "Identifiant",
    "RaisonSociale",
    "EmetteurEdi",
    "RecepteurEdi",
    "GestionStatutMiseEnPaiement",
    "GestionEngagement",
    "GestionService",
    "GestionServiceEngagement",
    "EstMOA",
    "EstMOAUniquement",
    "StructureActive",
)

_SERVICE_COLUMNS: dict[str, tuple[str, ...]] = {
    "Identifiant": ("identifiant",),
    "RaisonSociale": ("raisonsociale",),
    "Code": ("code", "codeservice"),
    "Nom": ("nom", "nomservice", "nomduservice", "libelle", "libelleservice"),
    "GestionEGMT": ("gestionegmt", "gestionengagement"),
    "ServiceActif": ("serviceactif",),
}
_SERVICE_REQUIRED = ("Identifiant", "Code", "Nom", "GestionEGMT", "ServiceActif")

_IGNORED_IN_HEADERS = str.maketrans("", "", " \t'’_-")


def _header_key(header: str) -> str:
    """Lower case, no accents, no spaces, apostrophes, underscores or hyphens."""
    decomposed = unicodedata.normalize("NFKD", header.strip().lower())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.translate(_IGNORED_IN_HEADERS)


def _column_map(
    headers: list[str], columns: Mapping[str, tuple[str, ...]], required: Iterable[str], where: str
) -> dict[str, int]:
    """Canonical name -> column index; unknown columns are ignored (addresses, phone…)."""
    spelling_to_name = {key: name for name, keys in columns.items() for key in keys}
    found: dict[str, int] = {}
    for index, header in enumerate(headers):
        name = spelling_to_name.get(_header_key(header))
        if name is None:
            continue
        if name in found:
            raise UsageError(
                f"{where}: columns {found[name] + 1} and {index + 1} both mean {name}; "
                "keep only one of them"
            )
        found[name] = index
    missing = [name for name in required if name not in found]
    if missing:
        raise UsageError(
            f"{where}: missing required column(s) {', '.join(missing)}; "
            f"the header line reads {';'.join(headers)!r}"
        )
    return found


# --------------------------------------------------------------------------- values

_TRUE = frozenset({"true", "1", "oui", "vrai"})
_FALSE = frozenset({"false", "0", "non", "faux"})

#: Textual identifier types (API names) accepted beside the numbers of the export.
_IDENTIFIER_TYPES = {
    "SIRET": 1,
    "UE_HORS_FRANCE": 2,
    "HORS_UE": 3,
    "RIDET": 4,
    "TAHITI": 5,
    "AUTRE": 6,
}


def _bool(value: str, column: str, where: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{where}: {column} is {value!r}, expected true or false")


def _identifier_type(value: str, where: str) -> int:
    text = value.strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 6:
        return int(text)
    if text.upper() in _IDENTIFIER_TYPES:
        return _IDENTIFIER_TYPES[text.upper()]
    raise UsageError(f"{where}: TypeIdentifiant is {value!r}, expected a number from 1 to 6")


def _siret_identifier(identifier: str) -> str:
    """Re-pad a SIRET whose leading zeros were lost (the XLSX stores it as a number)."""
    compact = "".join(identifier.split())
    if compact.isascii() and compact.isdigit() and len(compact) < 14:
        return compact.zfill(14)
    return compact


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


# --------------------------------------------------------------------------- rows

Row = Mapping[str, str]


def _structure_from_row(row: Row, where: str) -> Structure:
    identifier_type = _identifier_type(row["TypeIdentifiant"], where)
    identifier = row["Identifiant"].strip()
    if not identifier:
        raise UsageError(f"{where}: Identifiant is empty")
    if identifier_type == 1:
        identifier = _siret_identifier(identifier)
    return Structure(
        identifier_type=identifier_type,
        identifier=identifier,
        name=row["RaisonSociale"].strip(),
        emits_edi=_bool(row["EmetteurEdi"], "EmetteurEdi", where),
        receives_edi=_bool(row["RecepteurEdi"], "RecepteurEdi", where),
        payment_status_hidden=_bool(
            row["GestionStatutMiseEnPaiement"], "GestionStatutMiseEnPaiement", where
        ),
        engagement_required=_bool(row["GestionEngagement"], "GestionEngagement", where),
        service_required=_bool(row["GestionService"], "GestionService", where),
        service_or_engagement_required=_bool(
            row["GestionServiceEngagement"], "GestionServiceEngagement", where
        ),
        is_moa=_bool(row["EstMOA"], "EstMOA", where),
        is_moa_only=_bool(row["EstMOAUniquement"], "EstMOAUniquement", where),
        active=_bool(row["StructureActive"], "StructureActive", where),
        postcode=_optional(row.get("CodePostal")),
        city=_optional(row.get("Ville")),
        country_code=_optional(row.get("CodePays")),
    )


def _service_from_row(row: Row, where: str, structures: Mapping[str, Structure]) -> Service:
    identifier = "".join(row["Identifiant"].split())
    if not identifier:
        raise UsageError(f"{where}: Identifiant is empty")
    # The services file has no identifier type: re-pad only when that finds a SIRET
    # structure, so an all-digit RIDET or TAHITI number is left alone.
    if identifier not in structures:
        padded = _siret_identifier(identifier)
        known = structures.get(padded)
        if known is not None and known.identifier_type == 1:
            identifier = padded
    code = row["Code"].strip()
    if not code:
        raise UsageError(f"{where}: Code (code service) is empty")
    return Service(
        structure_identifier=identifier,
        code=code,
        name=row["Nom"].strip(),
        engagement_required=_bool(row["GestionEGMT"], "GestionEGMT", where),
        active=_bool(row["ServiceActif"], "ServiceActif", where),
    )


def _canonical_rows(
    rows: Iterable[tuple[str, Mapping[str, str]]],
    columns: Mapping[str, tuple[str, ...]],
    required: Iterable[str],
) -> Iterator[tuple[str, dict[str, str]]]:
    """Rows keyed by any header spelling -> rows keyed by canonical column names."""
    spelling_to_name = {key: name for name, keys in columns.items() for key in keys}
    required = tuple(required)
    for where, row in rows:
        canonical = {}
        for header, value in row.items():
            name = spelling_to_name.get(_header_key(header))
            if name is not None:
                canonical[name] = "" if value is None else str(value)
        missing = [name for name in required if name not in canonical]
        if missing:
            raise UsageError(f"{where}: missing required column(s) {', '.join(missing)}")
        yield where, canonical


def _build(
    structure_rows: Iterable[tuple[str, Mapping[str, str]]],
    service_rows: Iterable[tuple[str, Mapping[str, str]]],
) -> Directory:
    """Rows keyed by canonical names, each with its location -> Directory."""
    structures: dict[str, Structure] = {}
    first_seen: dict[str, str] = {}
    for where, row in structure_rows:
        structure = _structure_from_row(row, where)
        if structure.identifier in structures:
            # Two rows with different flags for one identifier: no way to know which applies.
            raise UsageError(
                f"{where}: identifier {structure.identifier} already given at "
                f"{first_seen[structure.identifier]}"
            )
        structures[structure.identifier] = structure
        first_seen[structure.identifier] = where
    services: dict[tuple[str, str], Service] = {}
    service_seen: dict[tuple[str, str], str] = {}
    for where, row in service_rows:
        service = _service_from_row(row, where, structures)
        key = (service.structure_identifier, service.code)
        if key in services:
            raise UsageError(
                f"{where}: code service {service.code} of {service.structure_identifier} "
                f"already given at {service_seen[key]}"
            )
        services[key] = service
        service_seen[key] = where
    return Directory(structures.values(), services.values())


def directory_from_rows(
    structure_rows: Iterable[Mapping[str, str]],
    service_rows: Iterable[Mapping[str, str]] = (),
    *,
    source: str = "directory rows",
) -> Directory:
    """A Directory from rows keyed by header names (any accepted spelling).

    For readers other than the CSV one (an XLSX sheet, a test table); errors name
    ``source`` and the 1-based row number.
    """
    structures = _canonical_rows(
        ((f"{source}, structure row {n}", row) for n, row in enumerate(structure_rows, 1)),
        _STRUCTURE_COLUMNS,
        _STRUCTURE_REQUIRED,
    )
    services = _canonical_rows(
        ((f"{source}, service row {n}", row) for n, row in enumerate(service_rows, 1)),
        _SERVICE_COLUMNS,
        _SERVICE_REQUIRED,
    )
    return _build(structures, services)


# --------------------------------------------------------------------------- CSV files


def _first_undecodable_line(path: Path) -> int:
    """1-based number of the first line that is not UTF-8 (for the error message)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


def _read_csv(
    path: Path, columns: Mapping[str, tuple[str, ...]], required: Iterable[str]
) -> Iterator[tuple[str, dict[str, str]]]:
    """The data rows of one export file, keyed by canonical column names."""
    name = path.name
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot open directory file {path}: {exc.strerror or exc}") from exc
    with handle:
        # utf-8-sig drops a BOM when there is one; newline="" lets csv see quoted newlines.
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, delimiter=";", quotechar='"', strict=True)
        try:
            headers = next(reader, None)
            if headers is None:
                raise UsageError(f"{name}: the file is empty; expected a header line")
            index = _column_map(headers, columns, required, f"{name}, line 1")
            width = len(headers)
            for fields in reader:
                where = f"{name}, line {reader.line_num}"
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue  # blank line, typically at the end
                if len(fields) != width:
                    raise UsageError(
                        f"{where}: {len(fields)} fields where the header has {width}; "
                        "is a ';' missing or one too many in that row?"
                    )
                yield where, {column: fields[i] for column, i in index.items()}
        except UnicodeDecodeError as exc:
            line = _first_undecodable_line(path)
            raise UsageError(
                f"{name}, line {line}: not UTF-8 ({exc.reason}); re-export the directory "
                "as UTF-8 CSV"
            ) from exc
        except csv.Error as exc:
            raise UsageError(f"{name}, line {reader.line_num}: unreadable CSV ({exc})") from exc


def load_directory(structures_csv: Path, services_csv: Path | None = None) -> Directory:
    """Load the structures export and, when given, the services export (domain.md 3.2/3.3)."""
    structure_rows = _read_csv(Path(structures_csv), _STRUCTURE_COLUMNS, _STRUCTURE_REQUIRED)
    service_rows: Iterable[tuple[str, dict[str, str]]] = ()
    if services_csv is not None:
        service_rows = _read_csv(Path(services_csv), _SERVICE_COLUMNS, _SERVICE_REQUIRED)
    return _build(structure_rows, service_rows)


def bundled_directory_paths() -> tuple[Path, Path]:
    """The small fixture directory shipped with the repository (structures, services)."""
    folder = Path(__file__).resolve().parents[2] / "fixtures" / "directory"
    return folder / "structures.csv", folder / "services.csv"
