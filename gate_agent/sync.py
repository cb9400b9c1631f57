"""Keeping the gallery current: a thread that long-polls the server and keeps the last good one.

At start it loads the encrypted cache (so a restarted gate can decide offline), then asks the
server for the config and for changes since the cached sequence (a snapshot if none). The cached
gallery is held back until that first answer: the pipeline gets it only with the changes applied,
so a person withdrawn while the gate was stopped (or killed) is never matched after a restart.
Only if the first round fails (server unreachable) does the gate decide from the cache as it is,
within the maximum offline age counted from the cache's last sync. After that
it long-polls: the server answers as soon as something changes (a withdrawal reaches the gate in
about a second) or after ``wait`` seconds with nothing new, which still proves the gate is online.
Errors back off exponentially and leave the last good gallery in place; only its age grows, and
past the maximum offline age the gate refuses to decide. A 401 means the server no longer knows
this gate: the gallery and the cache are dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gate_agent.cache import CachedGate, delete_cache, load_cache, save_cache
from gate_agent.client import AgentClient, ApiError, Unauthorized, Unreachable, backoff_delay
from gate_agent.gallery import GalleryError, GalleryState, GateConfig
from gate_agent.state import GateState

log = logging.getLogger(__name__)

REVOKED = "gate not recognised by the server (token revoked?): conventional lane only"
NOTICE_LEAD_TIME = (
    "waiting: the venue's notice has not been public for the lead time yet; the camera stays "
    "off: conventional lane only"
)

#: The config (thresholds, maximum offline age) is read again this often.
CONFIG_REFRESH_SECONDS = 300.0
#: A gallery that did not change is still re-cached this often, so the cache's sync time (which
#: bounds how long a restarted gate may decide offline) stays close to the truth.
CACHE_REFRESH_SECONDS = 60.0


class GallerySync:
    def __init__(
        self,
        client: AgentClient,
        state: GateState,
        key: bytes,
        cache_path: Path,
        stop: threading.Event,
        *,
        wait: int = 25,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._state = state
        self._key = key
        self._cache_path = cache_path
        self._stop = stop
        self._wait = wait
        self._clock = clock
        self._failures = 0
        self._config_fetched_at = float("-inf")
        self._cached_at = float("-inf")
        #: The cache of an earlier run, until the first round either applies the server's
        #: changes to it or fails (then it is used as it is).
        self._held: CachedGate | None = None
        self._thread = threading.Thread(target=self._run, name="gate-sync", daemon=True)

    def start(self) -> None:
        self.load_cache()
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def load_cache(self) -> bool:
        """Take the config from the cache and hold its gallery back for the first round."""
        cached = load_cache(self._cache_path, self._key)
        if cached is None:
            return False
        try:
            self._state.set_config(cached.config, self._key)
        except GalleryError:
            return False
        self._held = cached
        age = self._clock() - cached.synced_at
        log.info(
            "gallery cache loaded: %d people, synced %.0f s ago (decides offline up to %d s "
            "if the server cannot be asked for the changes since)",
            len(cached.gallery),
            age,
            self._state.max_offline_seconds(),
        )
        return True

    def _held_gallery(self, config: GateConfig | None) -> GalleryState | None:
        """The held cached gallery, if it was built for ``config``'s venue and transform."""
        held = self._held
        if held is None or config is None or held.config.venue_slug != config.venue_slug:
            return None
        if held.config.transform_seed != config.transform_seed and not np.array_equal(
            held.config.transform(self._key), config.transform(self._key)
        ):
            return None  # the venue key was rotated: its templates would match nobody
        return held.gallery

    def _release_held(self, *, use: bool) -> None:
        """After the first round: decide from the held cache as it is (``use``), or drop it."""
        gallery = self._held_gallery(self._state.config) if use else None
        synced_at = self._held.synced_at if self._held is not None else 0.0
        self._held = None
        if gallery is not None and self._state.gallery is None:
            self._state.set_gallery(gallery, synced_at)
            log.warning(
                "server not reached: deciding from the cached gallery (%d people) meanwhile",
                len(gallery),
            )

    def poll_once(self, wait: int) -> None:
        """One round: refresh the config when due, then one gallery request. Raises on errors."""
        if self._state.config is None or (
            self._clock() - self._config_fetched_at > CONFIG_REFRESH_SECONDS
        ):
            self._state.set_config(GateConfig.from_json(self._client.get_config()), self._key)
            self._config_fetched_at = self._clock()
        config = self._state.config
        assert config is not None
        # The gallery the changes apply to: this run's, else the held cache's, else none yet.
        # (``is None``, not ``or``: an empty gallery is a gallery, with a sequence.)
        current = self._state.gallery
        if current is None:
            current = self._held_gallery(config)
        if current is None:
            current = GalleryState(config.venue_slug, 0)
        payload = self._client.get_gallery(since=current.sequence, wait=wait)
        if payload.get("kind") == "snapshot" and self._state.gallery is not None:
            # An unasked-for snapshot means the venue key was rotated: the transform seed in
            # the config changed too, so take the new config before the new templates.
            self._state.set_config(GateConfig.from_json(self._client.get_config()), self._key)
            self._config_fetched_at = self._clock()
            config = self._state.config
            assert config is not None
            current = GalleryState(config.venue_slug, 0)
        updated = current.apply(payload, self._key)
        now = self._clock()
        changed = (
            self._state.gallery is None
            or payload.get("kind") == "snapshot"
            or bool(payload.get("entries"))
            or updated.sequence != current.sequence
        )
        if changed:
            self._state.set_gallery(updated, now)
            log.info("gallery at sequence %d: %d people", updated.sequence, len(updated))
        else:
            self._state.touch(now)
        if changed or now - self._cached_at > CACHE_REFRESH_SECONDS:
            save_cache(self._cache_path, self._key, CachedGate(config, updated, now))
            self._cached_at = now

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            # The cached gallery is used as it is only when this round fails for want of the
            # server, never when the server refused the gate or is not yet allowed to serve it.
            use_cache = False
            try:
                self.poll_once(0 if first else self._wait)
            except Unauthorized:
                self._held = None
                self._state.block(REVOKED)
                delete_cache(self._cache_path)
                self._back_off("the server refused this gate's token")
            except ApiError as exc:
                if "notice-lead-time" in (exc.code, exc.extra.get("reason")):
                    # Before the lead time the server gives neither config nor gallery, so the
                    # agent never opens the camera; say why, in the log and the summary's status.
                    self._state.block(NOTICE_LEAD_TIME)
                    log.warning("%s (server: %s)", NOTICE_LEAD_TIME, exc.detail or exc.title)
                else:
                    use_cache = True
                self._release_held(use=use_cache)
                self._back_off(str(exc))
            except (Unreachable, GalleryError) as exc:
                self._release_held(use=True)
                self._back_off(str(exc))
            except OSError as exc:  # the cache could not be written (disk full, permissions)
                self._release_held(use=True)
                self._back_off(f"cache not written: {exc.strerror or type(exc).__name__}")
            else:
                self._held = None  # the round applied the server's changes to it
                first = False
                if self._failures:
                    log.info("server reachable again")
                self._failures = 0

    def _back_off(self, reason: str) -> None:
        delay = backoff_delay(self._failures, base=1.0)
        self._failures += 1
        log.warning(
            "gallery sync failed (%s); keeping the last good gallery, retry in %.1f s",
            reason,
            delay,
        )
        self._stop.wait(delay)
