"""Settings: each declared once, each documented in the README, the first partition inside retention."""

import re
from pathlib import Path

from laaffic_pipeline.settings import env_name, setting_fields

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
