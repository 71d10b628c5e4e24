"""``tests/conftest.py``'s ``require``: a missing program skips a test here and fails it in CI."""

import pytest

from tests.conftest import require, require_binary

MISSING = "laaffic-no-such-program"


def test_a_missing_program_skips_outside_ci_naming_the_package(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(BaseException, match=rf"{MISSING} not found: install Debian's pkg-x") as raised:
        require_binary(MISSING, "pkg-x")
    assert raised.type is pytest.skip.Exception


def test_a_missing_program_fails_under_ci_naming_the_package(monkeypatch):
    monkeypatch.setenv("CI", "true")
    # BaseException: a skip escaping here would show as a skipped test, not as this test failing.
    with pytest.raises(BaseException, match=r"apt-get install -y pkg-x.*CI=true") as raised:
        require_binary(MISSING, "pkg-x")
    assert raised.type is pytest.fail.Exception
    with pytest.raises(BaseException, match=r"no server here: install Debian's postgresql") as raised:
        require("no server here", "postgresql")
    assert raised.type is pytest.fail.Exception


def test_a_program_that_is_there_is_returned(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert require_binary("sh", "dash").endswith("/sh")
    assert require_binary("sh", "dash", path="/bin/sh") == "/bin/sh"
    require(None, "postgresql")
