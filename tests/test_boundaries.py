"""One adapter per outside library (DESIGN 7): each is imported in one module only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"

ADAPTERS = {
    "pyhanko": {"validate/signature.py"},
    "pdfplumber": {"extract/pdf_text.py"},
    "pytesseract": {"extract/ocr.py"},
    "saxonche": {"validate/schematron.py"},
    "prefect": {"flows.py"},
    "pypdfium2": {"pdfium.py"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("library", sorted(ADAPTERS))
def test_library_is_imported_only_by_its_adapter(library: str) -> None:
    users = {
        str(path.relative_to(PIPELINE))
        for path in PIPELINE.rglob("*.py")
        if library in imported_roots(path)
    }
    assert users <= ADAPTERS[library], f"{library} imported outside its adapter: {users}"
