"""The gate agent put together: sync, pipeline, actuator and events, with a clean stop.

The camera (the source) is opened only once the gate has its config and gallery, from the server
or from the encrypted cache of an earlier run; the server gives neither before the venue's notice
has been public for the lead time, and the agent logs that it is waiting for that. The
"face recognition in operation" indicator (gate_agent/indicator.py) is on exactly while the
source is open. A failed match, and fallback mode, send the person to the conventional lane
(gate_agent/actuators.py ``direct_to_lane``), recording nothing about them.

``Agent.run`` blocks until the source ends or ``stop`` is set (SIGINT/SIGTERM in the CLI), then
stops the camera first, lets the worker finish its frame, sends or stores the pending events, and
returns the summary: counters only, nothing about any face.

In payment mode a till program (``gate_agent.till``) runs in the calling thread while the camera
runs, and the run ends when the till is done (one scripted purchase, or ``quit``); the pipeline
reports who is at the till instead of deciding about passers-by, so no visit events are sent.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx

from gate_agent.actuators import Actuator, direct_to_lane, make_actuator
from gate_agent.client import AgentClient
from gate_agent.config import AgentConfig
from gate_agent.events import EventStore, Outbox
from gate_agent.indicator import IndicatedSource, Indicator
from gate_agent.metrics import Metrics
from gate_agent.payment import Charger, Checkout, PurchaseStore
from gate_agent.pipeline import FaceProcessor, Pipeline
from gate_agent.presence import Presence
from gate_agent.sources import FrameSource, SourceOptions, open_source
from gate_agent.state import GateState
from gate_agent.sync import GallerySync
from gate_agent.till import TillProgram
from optin.crypto.gate_wire import gate_key
from optin.faces import warm_up

log = logging.getLogger(__name__)


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        source: FrameSource | None = None,
        actuator: Actuator | None = None,
        till: TillProgram | None = None,
    ) -> None:
        if (config.mode == "payment") != (till is not None):
            raise ValueError("payment mode runs with a till program, and only payment mode")
        self.config = config
        self.metrics = Metrics()
        self.state = GateState(max_offline_override=config.max_offline_seconds)
        self.presence = Presence() if till is not None else None
        self.indicator = Indicator(config.indicator_path)
        self._transport = transport
        self._source = source
        self._actuator = actuator
        self._till = till

    def run(self, stop: threading.Event | None = None) -> dict[str, Any]:
        stop = stop or threading.Event()
        config = self.config
        key = gate_key(config.token)
        # The components stop on ``halt``: set by ``stop`` from outside, or when the source ends.
        halt = threading.Event()
        client = AgentClient(config.server_url, config.token, transport=self._transport, stop=halt)
        sync = GallerySync(
            client, self.state, key, config.cache_path, halt, wait=config.long_poll_seconds
        )
        outbox = Outbox(client, EventStore(config.events_path), self.metrics)
        actuator = self._actuator or make_actuator(config.actuator, url=config.relay_url)
        processor = FaceProcessor(
            self.state,
            self.metrics,
            purpose=config.purpose,
            settings=config.pipeline,
            presence=self.presence,
            on_lane=lambda reason: direct_to_lane(actuator, reason),
        )
        pipeline: Pipeline | None = None
        source: FrameSource | None = None
        try:
            sync.start()
            outbox.start()
            if not self._wait_for_config(stop):
                return self.summary(outbox)
            warm_up()
            gate = self.state.config
            assert gate is not None
            # On before the camera opens, off the moment it is closed (IndicatedSource).
            self.indicator.switch_on(f"{gate.gate_name}, {gate.venue_name}")
            source = IndicatedSource(
                self._source
                or open_source(
                    config.source, SourceOptions(realtime=config.realtime, stride=config.stride)
                ),
                self.indicator,
            )
            self._announce(source)
            pipeline = Pipeline(
                source,
                processor,
                actuator,
                outbox.submit,
                self.metrics,
                halt,
                queue_size=config.pipeline.queue_size,
                max_frames=config.max_frames,
                duration=config.duration,
                on_end=self.presence.close if self.presence is not None else None,
            )
            pipeline.start()
            if self._till is not None:
                self._run_till(self._till, client, key, actuator, stop)
            else:
                while not pipeline.finished and not stop.wait(0.1):
                    pass
        finally:
            halt.set()
            if pipeline is not None:
                pipeline.join(5.0)  # its capture thread closes the source
            elif source is not None:
                source.close()
            else:
                self.indicator.switch_off()  # the source could not be opened
            actuator.close()
            outbox.close()
            sync.join(1.0)
            client.close()
        return self.summary(outbox, processor.status)

    def _run_till(
        self,
        till: TillProgram,
        client: AgentClient,
        key: bytes,
        actuator: Actuator,
        stop: threading.Event,
    ) -> None:
        assert self.presence is not None
        checkout = Checkout(
            charger=Charger(client, self.config.payment, stop),
            store=PurchaseStore(self.config.purchase_path, key),
            state=self.state,
            presence=self.presence,
            settings=self.config.payment,
            metrics=self.metrics,
            display=actuator,
            stop=stop,
        )
        till.run(checkout, stop)

    def summary(self, outbox: Outbox, status: str | None = None) -> dict[str, Any]:
        gate = self.state.config
        result = self.metrics.snapshot()
        result["status"] = status or self.state.status()
        result["gate"] = {"id": gate.gate_id, "name": gate.gate_name} if gate else None
        result["venue"] = gate.venue_slug if gate else None
        result["events_pending"] = outbox.pending()  # stored, or held while the store is broken
        result["indicator"] = self.indicator.snapshot()
        return result

    def _wait_for_config(self, stop: threading.Event) -> bool:
        """The camera stays off until the gate has its venue's config and gallery (from the
        server, or the cache of an earlier run); the sync thread logs why the server says no."""
        announced = False
        while self.state.config is None or self.state.gallery is None:
            if not announced:
                log.info("waiting for the server before opening the camera")
                announced = True
            if stop.wait(0.2):
                return False
        return True

    def _announce(self, source: FrameSource) -> None:
        gate = self.state.config
        assert gate is not None
        # The on-site notice (Guidebook items 5 and 6): shown whenever the camera runs.
        log.info(
            "FACE RECOGNITION IN OPERATION at %s, %s (%s). Only people enrolled for this venue "
            "are recognised; every other face is discarded in memory and never stored. Without "
            "a match, use the conventional lane. Operator: %s, contact: %s.",
            gate.gate_name,
            gate.venue_name,
            source.description,
            gate.operator_name,
            gate.contact_email,
        )
