"""API keys at rest: a model field that only ever holds MultiFernet ciphertext.

The Python value of the field is a `SealedSecret` (or None), never the plain key: templates, forms,
logs and reprs cannot show what they never get. Code that truly needs the key (the crew → engine
bridge, the model test) calls `reveal()`. Keys come from settings.FIELD_ENCRYPTION_KEYS, newest
first: the first encrypts, all of them decrypt, so a key can be rotated in without re-encrypting
first (`rotate_token` then moves a value onto the newest key).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class SecretUnreadable(Exception):
    """The stored ciphertext does not decrypt with any key in FIELD_ENCRYPTION_KEYS."""


@lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise SecretUnreadable("FIELD_ENCRYPTION_KEYS is empty: no key to encrypt or decrypt API keys with")
    return MultiFernet([Fernet(key) for key in keys])


def current_fernet() -> MultiFernet:
    # Looked up on every use so that overridden settings (tests, rotation) take effect at once.
    return _multi_fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def seal(plain: str) -> "SealedSecret":
    if not isinstance(plain, str) or not plain:
        raise ValueError("a secret must be a non-empty string")
    return SealedSecret(current_fernet().encrypt(plain.encode("utf-8")).decode("ascii"))


def rotate_token(token: str) -> str:
    """The same secret, re-encrypted with the newest key."""
    try:
        return current_fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise SecretUnreadable("a stored API key does not decrypt with any key in FIELD_ENCRYPTION_KEYS") from None


class SealedSecret:
    """Ciphertext of one secret. `reveal()` decrypts; nothing else ever shows the plain text."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token:
            raise ValueError("a sealed secret needs a non-empty ciphertext token")
        self.token = token

    def reveal(self) -> str:
        try:
            return current_fernet().decrypt(self.token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretUnreadable(
                "the stored API key does not decrypt with any key in FIELD_ENCRYPTION_KEYS; "
                "set the key again (or restore the encryption key it was saved with)"
            ) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SealedSecret) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __repr__(self) -> str:
        return "<SealedSecret: •••• set>"

    __str__ = __repr__


class EncryptedSecretField(models.TextField):
    """A TextField whose column holds Fernet ciphertext and whose value is a SealedSecret or None.

    Assign with `seal(plain)` (models offer set_key/clear_key); assigning a plain str is refused so
    that plain text can never reach the database by accident.
    """

    description = "An encrypted secret (MultiFernet ciphertext)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)  # never part of a ModelForm, so never rendered back
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> SealedSecret | None:
        return SealedSecret(value) if value else None

    def to_python(self, value: Any) -> SealedSecret | None:
        # Strings reaching to_python come from serialized data (fixtures), which hold ciphertext.
        if value is None or value == "" or isinstance(value, SealedSecret):
            return value or None
        if isinstance(value, str):
            return SealedSecret(value)
        raise TypeError(f"{self.name}: expected a SealedSecret, got {type(value).__name__}")

    def get_prep_value(self, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, SealedSecret):
            return value.token
        raise TypeError(
            f"{self.name}: refusing to store a plain {type(value).__name__}; "
            "set secrets with set_key() (or studio.crews.fields.seal) so that only ciphertext is saved"
        )

    def value_to_string(self, obj: Any) -> str:
        value = self.value_from_object(obj)
        return value.token if isinstance(value, SealedSecret) else ""
