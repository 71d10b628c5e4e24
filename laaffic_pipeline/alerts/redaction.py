"""Remove secrets from alert text: the API secret's value and any request ``Sign`` (32-hex md5)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
# "Sign" then up to a few quoting/separator characters, then an md5: `Sign: 05d7...`, `"Sign":"05d7..."`,
# `sign=05d7...`. The digest alone is what must go; the word stays so a reader sees what was removed.
_SIGN = re.compile(r"(?i)(\bsign[\"'\s:=]{0,4})[0-9a-f]{32}(?![0-9a-f])")
_MIN_SECRET_LENGTH = 4  # shorter "secrets" would blank ordinary words; settings refuse them anyway


class Redactor:
    """Replaces every known secret value and every ``Sign`` digest in strings, recursively."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        values = {value for value in secrets if value and len(value) >= _MIN_SECRET_LENGTH}
        # Longest first, so a secret containing another is removed whole.
        self._secrets = sorted(values, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        return _SIGN.sub(rf"\g<1>{REDACTED}", value)

    def deep(self, value: Any) -> Any:
        """``value`` with every string inside it (dict keys and values, list items) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.deep(key): self.deep(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(item) for item in value]
        return value
