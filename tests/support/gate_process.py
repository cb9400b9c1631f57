"""The real gate agent in a process of its own, in front of a ``PhotoCamera``, so that a test can
SIGKILL it (as a crash or a pulled plug would) and start it again on the same state directory.

Run as ``python -m support.gate_process --server URL --state-dir DIR --decisions FILE`` with the
gate's token in ``OPTIN_GATE_TOKEN``: the agent decides with the actuator below, which appends
``<event id> <ref> <outcome>`` per decision to FILE (one ``write`` each, so a kill loses none
already made), and prints its JSON summary when stopped by SIGTERM. ``GateProcess`` starts one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]


class DecisionFile:
    """An actuator recording each decision on a line of its own."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def actuate(self, decision: Any) -> None:
        os.write(self._fd, f"{decision.id} {decision.ref} {decision.outcome}\n".encode())

    def close(self) -> None:
        os.close(self._fd)


def main() -> None:
    from gate_agent.agent import Agent
    from gate_agent.config import AgentConfig, PipelineSettings

    from support.photo_camera import PhotoCamera

    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--decisions", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = AgentConfig(
        server_url=args.server,
        token=os.environ["OPTIN_GATE_TOKEN"],
        state_dir=args.state_dir,
        long_poll_seconds=1,
        # Frames are a second apart on the camera's clock: every match is a decision.
        pipeline=PipelineSettings(decision_cooldown=0.5),
    )
    agent = Agent(config, source=PhotoCamera(), actuator=DecisionFile(args.decisions))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(json.dumps(agent.run(stop)), flush=True)


class GateProcess:
    """One run of the agent; its decisions file and log live next to each other in ``folder``."""

    def __init__(self, server_url: str, token: str, state_dir: Path, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.decisions_path = folder / "decisions"
        self.decisions_path.touch()
        self._stdout = folder / "summary.json"
        self._log = folder / "agent.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
        env["OPTIN_GATE_TOKEN"] = token
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
        with self._stdout.open("wb") as out, self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "support.gate_process",
                    "--server",
                    server_url,
                    "--state-dir",
                    str(state_dir),
                    "--decisions",
                    str(self.decisions_path),
                ],
                env=env,
                stdout=out,
                stderr=log,
            )

    def decided(self) -> list[tuple[str, str, str]]:
        """(event id, ref, outcome) of each decision so far, in order."""
        lines = self.decisions_path.read_text().splitlines()
        return [(a, b, c) for a, b, c in (line.split(" ") for line in lines)]

    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL: nothing runs on the way out."""
        self._process.kill()
        self._process.wait(10)

    def terminate(self, timeout: float = 20.0) -> dict[str, Any]:
        """SIGTERM, a clean stop; the agent's summary."""
        self._process.terminate()
        self._process.wait(timeout)
        assert self._process.returncode == 0, self.log()
        summary: dict[str, Any] = json.loads(self._stdout.read_text())
        return summary

    def log(self) -> str:
        return self._log.read_text(errors="replace")

    def logged(self, text: str) -> bool:
        return text in self.log()


if __name__ == "__main__":
    main()
