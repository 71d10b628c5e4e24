from tests.alerts.receivers import smtp_inbox, webhook  # noqa: F401  (fixtures)
