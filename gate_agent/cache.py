"""The encrypted offline cache: the last good config and gallery, so a restarted gate can decide
without the server, until the maximum offline age counted from the last sync.

One file (``gallery.cache``, mode 0600, replaced atomically and fsynced, so a gate killed while
writing it finds the previous version whole on restart) holding a JSON document sealed with
AES-256-GCM under the gate key (``optin.crypto.gate_wire``): the key derives from the gate's
token, which the file does not hold, so a copied cache is noise without the token. The cache
holds only the venue's enrolled, consented people: pseudonyms, purposes, entitlements and
templates already passed through the venue transform.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gate_agent.gallery import GalleryError, GalleryState, GateConfig
from optin.crypto.files import read_private_file, replace_private_file
from optin.crypto.gate_wire import open_for_gate, seal_for_gate
from optin.errors import ConfigurationError, CryptoError

log = logging.getLogger(__name__)

CACHE_VERSION: Final = 1
_AAD: Final = "optin-gate-cache/v1"


@dataclass(frozen=True, slots=True)
class CachedGate:
    config: GateConfig
    gallery: GalleryState
    synced_at: float  # wall-clock seconds of the last answer from the server


def save_cache(path: Path, key: bytes, cached: CachedGate) -> None:
    document = {
        "version": CACHE_VERSION,
        "synced_at": cached.synced_at,
        "config": dict(cached.config.raw),
        "gallery": cached.gallery.to_json(),
    }
    plain = json.dumps(document, separators=(",", ":")).encode("utf-8")
    replace_private_file(path, seal_for_gate(key, plain, _AAD).encode("ascii"))


def load_cache(path: Path, key: bytes) -> CachedGate | None:
    """The cached gate, or None when there is none or it does not open with this key."""
    _discard_torn_writes(path)
    try:
        sealed = read_private_file(path, what="gallery cache")
    except FileNotFoundError:
        return None
    except ConfigurationError as exc:
        log.warning("gallery cache ignored: %s", exc.detail)
        return None
    try:
        document = json.loads(open_for_gate(key, sealed.decode("ascii"), _AAD))
        if document.get("version") != CACHE_VERSION:
            raise GalleryError(f"unknown cache version {document.get('version')!r}")
        return CachedGate(
            config=GateConfig.from_json(document["config"]),
            gallery=GalleryState.from_json(document["gallery"]),
            synced_at=float(document["synced_at"]),
        )
    except (CryptoError, GalleryError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        log.warning("gallery cache ignored: it does not open with this gate's token")
        return None


def delete_cache(path: Path) -> None:
    _discard_torn_writes(path)
    path.unlink(missing_ok=True)


def _discard_torn_writes(path: Path) -> None:
    """Remove the temporary files of writes a killed gate left unfinished.

    ``replace_private_file`` writes ``.<name>.<random>.tmp`` and renames it over the cache, so a
    kill mid-write leaves the old cache whole and such a file (sealed, but litter) behind.
    """
    for temp in path.parent.glob(f".{path.name}.*.tmp"):
        temp.unlink(missing_ok=True)
