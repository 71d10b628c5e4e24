"""Alerts: what went wrong, said once to a chat webhook and/or by e-mail, with secrets redacted.

Dagster OSS has no alerting of its own. ``messages`` builds an ``Alert`` and its chat payload,
``redaction`` strips the API secret and any request signature, ``delivery`` sends it (bounded
time, never raising), ``resource`` carries the channels' settings into Dagster and ``sensors``
holds the sensor factories (run failure, failed asset checks, late marts day).
"""
