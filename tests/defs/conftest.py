"""Every definitions test runs in its own folder: the default warehouse path (``data/``) and the
first-partition record beside it land there, never in the repository."""

import pytest


@pytest.fixture(autouse=True)
def _own_folder(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
