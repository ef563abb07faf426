"""Settings: environment, settings file, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.settings import SiretMode, load_settings


def test_environment_wins_over_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file = tmp_path / "intake.toml"
    settings_file.write_text('siret_mode = "qualification"\nmax_pages = 7\n', encoding="utf-8")
    monkeypatch.setenv("INTAKE_SETTINGS_FILE", str(settings_file))
    monkeypatch.setenv("INTAKE_MAX_PAGES", "9")
    settings = load_settings()
    assert settings.siret_mode is SiretMode.QUALIFICATION
    assert settings.max_pages == 9


def test_overrides_win_and_default_store_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.resolved_db_url == f"sqlite:///{tmp_path.resolve() / 'dossiers.sqlite'}"


def test_invalid_settings_are_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_SIRET_MODE", "lenient")
    with pytest.raises(UsageError):
        load_settings()
