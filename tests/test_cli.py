"""The command line's own behaviour: a bad setting is one line and exit 2, wherever a command starts."""

from __future__ import annotations

import pytest

from laaffic_pipeline import cli
from laaffic_pipeline.settings import SettingsError


def test_a_bad_setting_ends_demo_with_one_line_naming_it_and_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster_home"))
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", str(tmp_path / "data" / "laaffic.duckdb"))
    monkeypatch.setenv("LAAFFIC_LOOKBACK_DAYS", "-1")

    assert cli.main(["demo", "--days", "1", "--records-per-day", "10"]) == 2

    assert capsys.readouterr().err == (
        "laaffic-pipeline demo: LAAFFIC_LOOKBACK_DAYS='-1' is not accepted: Input should be greater than "
        "or equal to 0; accepted: 0 to 62\n"
    )
    assert not (tmp_path / "data" / "laaffic.duckdb").exists()


def test_a_settings_error_wrapped_by_another_error_is_still_found():
    """Dagster wraps what a definitions module raises while loading (``raise ... from error``)."""
    try:
        try:
            raise SettingsError("LAAFFIC_TIMEZONE='Mars' is not accepted: not a known IANA time zone")
        except SettingsError as error:
            raise RuntimeError("Error loading laaffic_pipeline.definitions") from error
    except RuntimeError as wrapped:
        found = cli.settings_error(wrapped)
    assert isinstance(found, SettingsError)
    assert str(found).startswith("LAAFFIC_TIMEZONE='Mars'")
    assert cli.settings_error(RuntimeError("something else")) is None


def test_any_other_error_keeps_its_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("not a setting")

    monkeypatch.setattr("laaffic_pipeline.warehouse.query.query_read_only", broken)
    with pytest.raises(ZeroDivisionError):
        cli.main(["sql", "SELECT 1", "--database", "whatever.duckdb"])


def test_dev_says_what_its_ports_are(capsys):
    with pytest.raises(SystemExit):
        cli.main(["dev", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--ui-port UI_PORT port of the Dagster UI on 127.0.0.1 (default 3000)" in text
    assert "--simulator-port SIMULATOR_PORT port of the simulator on 127.0.0.1 (default 8765; 0 picks" in text
    assert "$DAGSTER_HOME/dev.env" in text


def test_a_demo_that_passed_ends_with_what_to_do_next_and_its_query_runs(monkeypatch, tmp_path, capsys):
    from laaffic_pipeline.warehouse.analytics import ensure_analytics_file

    warehouse = tmp_path / "data" / "laaffic.duckdb"
    monkeypatch.setenv("LAAFFIC_DUCKDB_PATH", str(warehouse))
    monkeypatch.delenv("LAAFFIC_ANALYTICS_PATH", raising=False)
    monkeypatch.setattr("laaffic_pipeline.demo.run_demo", lambda **kwargs: 0)
    ensure_analytics_file(warehouse, tmp_path / "data" / "analytics.duckdb")  # the views, no rows yet

    assert cli.main(["demo"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("\nNext:\n  make dev ")
    assert f".venv/bin/duckdb -readonly {tmp_path / 'data' / 'analytics.duckdb'} " in printed
    (query,) = [line.split('sql "', 1)[1].rstrip('"') for line in printed.splitlines() if ' sql "' in line]
    assert cli.main(["sql", "--format", "csv", query]) == 0
    assert capsys.readouterr().out == "call_date,currency,calls,total_cost\n"


def test_a_demo_that_failed_does_not_suggest_next_steps(monkeypatch, capsys):
    monkeypatch.setattr("laaffic_pipeline.demo.run_demo", lambda **kwargs: 1)
    assert cli.main(["demo"]) == 1
    assert "Next:" not in capsys.readouterr().out
