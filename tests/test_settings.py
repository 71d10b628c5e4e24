"""Settings: each declared once, each documented in the README, the first partition inside retention."""

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from laaffic_pipeline.settings import PipelineSettings, env_name, setting_fields

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
SECRETS = {
    "LAAFFIC_API_KEY",
    "LAAFFIC_API_SECRET",
    "LAAFFIC_ALERT_WEBHOOK_URL",
    "LAAFFIC_ALERT_SMTP_PASSWORD",
}


def test_every_setting_is_in_the_readme_and_the_readme_names_no_other():
    declared = {env_name(name) for name in setting_fields()}
    mentioned = set(re.findall(r"`(LAAFFIC_[A-Z0-9_]+)`", README))
    assert declared - mentioned == set(), "settings the README does not document"
    assert mentioned - declared - SECRETS == set(), "README variables no setting reads"


@pytest.mark.parametrize(
    ("zone", "now", "first"),
    [
        # Floor 2026-09-30T05:00Z; 2026-10-01 starts before floor + 1 day, so the 2nd is first.
        ("UTC", datetime(2026, 11, 30, 5, tzinfo=UTC), date(2026, 10, 2)),
        ("UTC", datetime(2026, 11, 30, 0, tzinfo=UTC), date(2026, 10, 1)),
        # In Kolkata (+05:30) 2026-10-02 starts at 2026-10-01T18:30Z, before floor + 1 day (23:00Z).
        ("Asia/Kolkata", datetime(2026, 11, 30, 23, tzinfo=UTC), date(2026, 10, 3)),
    ],
)
def test_without_a_start_date_the_first_partition_is_a_day_the_api_still_keeps(zone, now, first):
    assert PipelineSettings(timezone=zone).first_day(now) == first


def test_an_explicit_start_date_is_kept_as_given():
    assert PipelineSettings(start_date=date(2026, 1, 1)).first_day() == date(2026, 1, 1)
