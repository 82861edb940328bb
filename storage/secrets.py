"""Provider keys at rest: Fernet ciphertext plus a four-character hint, nothing else.

MultiFernet lets an operator rotate PIPEBOT_SECRET_KEY: put the new key first, keep the
old one after it until `rotate()` has re-encrypted every row.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretError(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is required")
        fernets = [Fernet(k.encode() if isinstance(k, str) else k) for k in keys]
        self._newest = fernets[0]
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise SecretError(
                "a stored provider key cannot be decrypted: PIPEBOT_SECRET_KEY changed; "
                "put the old key after the new one (comma-separated) or save the key again"
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """The same secret encrypted under the newest key; InvalidToken (cryptography's) when
        no configured key opens it."""
        return self._fernet.rotate(bytes(token))

    def is_newest(self, token: bytes) -> bool:
        """Whether the newest key alone opens ``token`` (rotating it would change nothing)."""
        try:
            self._newest.decrypt(bytes(token))
        except InvalidToken:
            return False
        return True


def hint_for(secret: str) -> str:
    """Only the last four characters are ever shown back."""
    return secret[-4:] if len(secret) >= 8 else ""


def new_key() -> str:
    return Fernet.generate_key().decode()
