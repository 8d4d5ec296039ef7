"""The audit key: where it comes from, how it is created, and its public name.

With a key, every record carries an HMAC-SHA256 (see :mod:`mcpwrap._audit.seal`): records cannot be forged or
altered without it. Without one, the chain is plain SHA-256 — it shows accidental damage and naive edits, but
someone who can write the file can recompute every hash after their edit.

The key comes from ``MCPWRAP_AUDIT_KEY``, else an explicit key file (``audit.key_file``, ``--key-file``), else
``$MCPWRAP_HOME/audit.key`` if it exists. A key file that group or others can read is refused (as ssh refuses
such private keys): a key anyone can read authenticates nothing; so is a link, or a file of another user
(:func:`mcpwrap._fs.read_file`). ``mcpwrap audit init-key`` writes 64 random
hex characters (256 bits), owner-only, and never replaces an existing key unless forced: the logs sealed with
it need it to verify. A record names its key by :func:`key_id`, a hash that reveals nothing of the key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .._errors import AuditError, UnsafeFileError
from .._fs import atomic_write, create_new, ensure_dir, read_file

__all__ = ["KEY_ENV", "MIN_KEY_CHARS", "key_id", "load_key", "init_key", "default_key_path"]

KEY_ENV = "MCPWRAP_AUDIT_KEY"
MIN_KEY_CHARS = 16  # shorter keys are guessable; init-key writes 64 hex characters (256 bits)
KEY_BYTES = 32  # random bytes of a new key (written as hex)
_KID_DOMAIN = b"mcpwrap audit key id\x00"


def default_key_path() -> Path:
    from .._paths import audit_key_path

    return audit_key_path()


def key_id(key: bytes) -> str:
    """A short public name for a key, recorded in every record it seals (never the key itself)."""
    return hashlib.sha256(_KID_DOMAIN + key).hexdigest()[:16]


def _check_key(material: bytes, where: str) -> bytes:
    material = material.strip()
    if len(material) < MIN_KEY_CHARS:
        raise AuditError(f"audit key from {where} is too short ({len(material)} characters; at least {MIN_KEY_CHARS})")
    return material


def load_key(key_file: str | os.PathLike | None = None, *, environ: dict | None = None) -> bytes | None:
    """The audit key: ``MCPWRAP_AUDIT_KEY``, else ``key_file``, else ``$MCPWRAP_HOME/audit.key`` if present."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        return _check_key(env[KEY_ENV].encode("utf-8"), KEY_ENV)
    explicit = key_file is not None
    path = Path(os.path.expanduser(os.fspath(key_file))) if key_file is not None else default_key_path()
    try:
        material = read_file(path, secret=True, what="audit key file")
    except FileNotFoundError:
        if explicit:
            raise AuditError(f"audit key file not found: {path}") from None
        return None
    except UnsafeFileError as exc:  # a link, another user's file, or readable by others: it authenticates nothing
        raise AuditError(str(exc)) from None
    except OSError as exc:
        raise AuditError(f"cannot read audit key file {path}: {exc.strerror or exc}") from None
    return _check_key(material, str(path))


def init_key(path: str | os.PathLike | None = None, *, force: bool = False) -> tuple[Path, str]:
    """Create a new random key file (mode 0600). Refuses to replace one unless ``force``: old logs need it."""
    import secrets

    target = Path(os.path.expanduser(os.fspath(path))) if path is not None else default_key_path()
    try:
        ensure_dir(target.parent, what="audit key file")
    except UnsafeFileError as exc:
        raise AuditError(str(exc)) from None
    material = secrets.token_hex(KEY_BYTES).encode("ascii")
    if target.exists() and not force:
        raise AuditError(f"{target} already exists; logs sealed with it need it to verify (use --force to replace it)")
    if force:
        atomic_write(target, material + b"\n")
    elif not create_new(target, material + b"\n"):  # never replaces a key created meanwhile
        raise AuditError(f"{target} already exists")
    return target, key_id(material)
