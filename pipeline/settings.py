"""Settings, loaded once at entry points (CLI, flows) and passed down as arguments.

Every setting can be given as an environment variable ``INTAKE_<NAME>`` or in a TOML file
named by ``INTAKE_SETTINGS_FILE`` (default ``intake.toml`` in the working directory, if it
exists). Environment variables win over the file.
"""

from __future__ import annotations

import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import UsageError


class SiretMode(StrEnum):
    """``strict``: an invalid SIRET checksum is an error; ``qualification``: a warning
    (sandbox identifiers fail the checksum)."""

    STRICT = "strict"
    QUALIFICATION = "qualification"


class FacturxCrossCheck(StrEnum):
    """How the visible pages of a Factur-X PDF are compared with its XML: ``full`` reads
    every page, by OCR where it has no text layer; ``text-layer`` skips the OCR (an image-
    only page is then reported as not compared), for EDI volumes where OCR costs too much;
    ``off`` does not compare."""

    FULL = "full"
    TEXT_LAYER = "text-layer"
    OFF = "off"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="forbid", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Store, work folders, caches.")
    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the dossier store; default sqlite under data_dir.",
    )
    directory_structures: Path | None = Field(
        default=None, description="Structures CSV of the annuaire (default: the bundled one)."
    )
    directory_services: Path | None = Field(
        default=None, description="Services CSV of the annuaire (default: the bundled one)."
    )
    trust_roots: Path | None = Field(
        default=None, description="Folder or PEM bundle of trusted root certificates."
    )
    siret_mode: SiretMode = SiretMode.STRICT
    max_file_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_pages: int = Field(default=200, gt=0)
    max_xml_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    ocr_dpi: int = Field(default=300, ge=72, le=600)
    ocr_workers: int = Field(default=2, ge=1, le=64)
    facturx_cross_check: FacturxCrossCheck = FacturxCrossCheck.FULL

    @property
    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / 'dossiers.sqlite').resolve()}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the settings file, then the environment, then ``overrides``."""
    file_values: dict[str, Any] = {}
    file_name = os.environ.get("INTAKE_SETTINGS_FILE", "intake.toml")
    settings_file = Path(file_name)
    if settings_file.is_file():
        try:
            file_values = tomllib.loads(settings_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read settings file {settings_file}: {exc}") from exc
    env_names = {
        key.removeprefix("INTAKE_").lower() for key in os.environ if key.startswith("INTAKE_")
    }
    merged = {k: v for k, v in file_values.items() if k not in env_names}
    merged.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**merged)
    except ValueError as exc:
        raise UsageError(f"invalid settings: {exc}") from exc
