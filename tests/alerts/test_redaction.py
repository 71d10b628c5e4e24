"""No secret and no request signature survives redaction, wherever it hides in an alert."""

import hashlib

from laaffic_pipeline.alerts.delivery import redact_alert
from laaffic_pipeline.alerts.messages import Alert, webhook_payload
from laaffic_pipeline.alerts.redaction import REDACTED, Redactor

SECRET = "s3cr3t-value-of-the-api"
SIGN = hashlib.md5(b"key" + SECRET.encode() + b"1630468800").hexdigest()


def test_the_secret_and_every_spelling_of_a_sign_header_are_removed():
    redactor = Redactor([SECRET, None, ""])
    texts = [
        f"Sign: {SIGN}",
        f'{{"Sign": "{SIGN}", "Timestamp": "1630468800"}}',
        f"headers sign={SIGN.upper()}",
        f"secret was {SECRET}!",
    ]
    cleaned = [redactor.text(text) for text in texts]
    assert all(SIGN not in text.lower() and SECRET not in text for text in cleaned), cleaned
    assert cleaned[0] == f"Sign: {REDACTED}"
    assert "1630468800" in cleaned[1]  # only the digest goes


def test_other_hex_is_left_alone():
    recording = "12022022570cc2484c59d4f8b9745d34226285b1e.mp3"
    assert Redactor([SECRET]).text(f"recordingFileId {recording}") == f"recordingFileId {recording}"


def test_a_whole_alert_payload_is_clean():
    alert = Alert(
        title=f"failed with {SECRET}",
        kind="run_failure",
        job="laaffic_daily",
        partitions=("2026-03-10",),
        failed=("raw_call_records",),
        error=f"request headers: Sign: {SIGN}, secret {SECRET}",
        details=(("note", SECRET),),
    )
    payload = webhook_payload(redact_alert(alert, Redactor([SECRET])))
    text = str(payload)
    assert SECRET not in text and SIGN not in text
    assert payload["alert"]["job"] == "laaffic_daily"
