"""Client for Laaffic's ``POST /v3/voice/recordSipQuery`` (signing, windows, pages, errors)."""
