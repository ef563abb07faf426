"""The committed JSON Schemas are what the models generate."""

from __future__ import annotations

from pipeline.schemas import SCHEMA_DIR, render_schemas


def test_committed_schemas_are_up_to_date() -> None:
    stale = [
        name
        for name, text in render_schemas().items()
        if not (SCHEMA_DIR / name).is_file()
        or (SCHEMA_DIR / name).read_text(encoding="utf-8") != text
    ]
    assert not stale, f"schemas/ is stale for {stale}: run `python -m pipeline.schemas`"


def test_piece_draft_schema_lists_every_canonical_field() -> None:
    import json

    from pipeline.models import CANONICAL_FIELDS

    schema = json.loads((SCHEMA_DIR / "piece-draft.schema.json").read_text(encoding="utf-8"))
    fields = schema["$defs"]["PieceFields"]["properties"]
    assert list(fields) == list(CANONICAL_FIELDS)
