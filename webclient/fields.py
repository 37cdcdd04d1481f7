"""A model field that keeps secrets encrypted at rest.

Values are encrypted with Fernet under FIELD_ENCRYPTION_KEY; several comma-separated keys
allow rotation (the first encrypts, all decrypt). Development without a key derives one from
SECRET_KEY so the one-command demo works.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet() -> MultiFernet:
    keys = [key.strip() for key in settings.FIELD_ENCRYPTION_KEY.split(",") if key.strip()]
    if not keys:
        digest = hashlib.sha256(f"field-encryption:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEY is not a valid Fernet key: {exc}"
        ) from None


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "a stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY"
        ) from None


def decrypt_fresh(token: str, max_age: int) -> str | None:
    """What `encrypt` made at most `max_age` seconds ago; None for anything else."""
    try:
        return _fernet().decrypt(token.encode(), ttl=max_age).decode()
    except (InvalidToken, UnicodeError):
        return None


class EncryptedTextField(models.TextField):
    """Plain text in Python, Fernet ciphertext in the database; empty stays empty."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
