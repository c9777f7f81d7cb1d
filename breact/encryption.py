"""Secrets encrypted at rest (Fernet): the keys from settings, and a model field that uses them.

Keys: BREACT_FIELD_KEY is a comma-separated list of Fernet keys; the first encrypts, every one
decrypts, so a new key goes first and the old one stays behind it until `manage.py
rotate_field_keys` has re-encrypted every row. Unset, one key is derived from SECRET_KEY. The
derived key always decrypts too (last), so setting BREACT_FIELD_KEY on a running install and
rotating moves every row to the new key. A value that no key opens reads as an UnreadableSecret
(empty, falsy, never a crash) and is written back unchanged, so nothing is lost while the
operator restores the right key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured
from django.db import models

logger = logging.getLogger(__name__)

# Stored values start with this, so ciphertext is told from a value written before encryption.
PREFIX = "fernet:"


class UnreadableSecret(str):
    """A stored secret that none of the configured keys decrypts: reads as "" (falsy, so it is
    never sent anywhere), keeps the stored ciphertext so saving the row does not destroy it."""

    unreadable = True

    def __new__(cls, stored: str) -> UnreadableSecret:
        value = super().__new__(cls, "")
        value.stored = stored
        return value

    stored: str


UNREADABLE_MESSAGE = (
    "The stored key cannot be decrypted with the keys in BREACT_FIELD_KEY (or, unset, the key "
    "derived from BREACT_SECRET_KEY). Put the key it was written with back in the list, or type "
    "the secret again."
)


def _derived_key() -> bytes:
    """A Fernet key derived from SECRET_KEY (HKDF-SHA256, a fixed purpose label)."""
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"breact field encryption v1"
    ).derive(settings.SECRET_KEY.encode())
    return base64.urlsafe_b64encode(raw)


def _configured_keys() -> list[bytes]:
    keys = []
    for position, entry in enumerate(settings.BREACT_FIELD_KEY, start=1):
        key = entry.strip().encode()
        try:
            valid = len(base64.urlsafe_b64decode(key)) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ImproperlyConfigured(
                f"BREACT_FIELD_KEY entry {position} is not a Fernet key (32 url-safe base64 "
                'bytes). Make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            )
        keys.append(key)
    return keys


def field_keys() -> MultiFernet:
    """The configured keys, first one encrypting; the SECRET_KEY-derived key decrypts last.
    Raises ImproperlyConfigured for a malformed BREACT_FIELD_KEY entry."""
    return _field_keys(tuple(settings.BREACT_FIELD_KEY), settings.SECRET_KEY)


@functools.lru_cache(maxsize=8)
def _field_keys(configured: tuple[str, ...], secret_key: str) -> MultiFernet:
    # Cached per distinct setting values (key derivation is not free; tests change settings).
    keys = _configured_keys()
    derived = _derived_key()
    if derived not in keys:
        keys.append(derived)
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    """The stored form of `plaintext`: PREFIX + a Fernet token under the first key."""
    return PREFIX + field_keys().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    """The plaintext of a stored value; a value without PREFIX (written before encryption) is
    returned as it is. Raises InvalidToken when no key opens it."""
    if not stored.startswith(PREFIX):
        return stored
    return field_keys().decrypt(stored.removeprefix(PREFIX).encode()).decode()


class EncryptedTextField(models.TextField):
    """A text secret stored encrypted (see the module docstring); Python code sees plaintext.
    `max_length` bounds the plaintext. Not usable in lookups (each encryption differs); an empty
    value is stored empty: there is nothing to hide."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if not value:
            return value
        try:
            return decrypt(value)
        except (InvalidToken, ImproperlyConfigured) as exc:
            # A page listing rows must not fail on one; the system check names a bad setting.
            logger.error("A %s value is unreadable: %s", self.model._meta.label, exc or "wrong key")
            return UnreadableSecret(value)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, UnreadableSecret):
            return value.stored
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """(model, field name) of every EncryptedTextField of the installed apps."""
    from django.apps import apps

    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedTextField)
    ]


def field_keys_rotate() -> tuple[int, list[str]]:
    """Re-encrypt every stored secret under the first key (values written before encryption
    are encrypted too). One UPDATE per row, each on its own: safe to run on a live install and to
    run again. Returns (rows rewritten, "<model> <pk>" of the values no key opens, left as they
    are)."""
    rewritten, unreadable = 0, []
    for model, name in encrypted_fields():
        rows = model._default_manager.exclude(**{name: ""}).values_list("pk", name)
        for pk, value in rows.iterator():
            if isinstance(value, UnreadableSecret):
                unreadable.append(f"{model._meta.label} {pk}")
                continue
            rewritten += model._default_manager.filter(pk=pk).update(**{name: value})
    return rewritten, unreadable


@register(Tags.security)
def check_field_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Every BREACT_FIELD_KEY entry must be a Fernet key: say so at start-up, not on first use."""
    try:
        field_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="breact.E010")]
    return []
