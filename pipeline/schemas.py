"""JSON Schemas of the public shapes, generated from the models into ``schemas/``.

Run ``python -m pipeline.schemas`` after changing a model; a test fails while the files
in ``schemas/`` differ from what the models generate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from pipeline.accuracy import AccuracyReport
from pipeline.mailroom import MailroomSummary
from pipeline.models import (
    Cadre,
    Deposit,
    DepositCertificate,
    DepositResult,
    Finding,
    GroundTruth,
    PieceDraft,
    RoutingDecision,
    SignatureReport,
)

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"

#: File name (without ``.schema.json``) -> model.
PUBLIC_MODELS: dict[str, type[BaseModel]] = {
    "piece-draft": PieceDraft,
    "deposit-result": DepositResult,
    "ground-truth": GroundTruth,
    "finding": Finding,
    "signature-report": SignatureReport,
    "deposit": Deposit,
    "cadre": Cadre,
    "routing-decision": RoutingDecision,
    "deposit-certificate": DepositCertificate,
    "mailroom-summary": MailroomSummary,
    "accuracy-report": AccuracyReport,
}


def render_schemas() -> dict[str, str]:
    """File name -> JSON text of every public schema."""
    rendered = {}
    for name, model in PUBLIC_MODELS.items():
        schema = model.model_json_schema(mode="serialization")
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        rendered[f"{name}.schema.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return rendered


def write_schemas(folder: Path = SCHEMA_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for path in write_schemas():
        sys.stdout.write(f"wrote {path}\n")
