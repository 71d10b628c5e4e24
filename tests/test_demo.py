import io

from laaffic_pipeline.demo import run_demo


def test_the_demo_lands_the_days_and_writes_the_report_and_exports(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster_home"))  # every LAAFFIC_* at its default
    out = io.StringIO()

    assert run_demo(days=1, records_per_day=100, out=out) == 0, out.getvalue()

    printed = out.getvalue()
    assert f"Report (cost per currency and ASR per day): {tmp_path / 'data' / 'report.html'}" in printed
    assert f"Parquet exports of the marts: {tmp_path / 'data' / 'exports'}" in printed
    assert "<svg" in (tmp_path / "data" / "report.html").read_text(encoding="utf-8")
    assert len(list((tmp_path / "data" / "exports" / "daily_costs").glob("call_date=*.parquet"))) == 1
