"""The till's side of payment mode: a line protocol on stdin, or one scripted purchase.

Interactive (``optin gate run --mode payment``), one command a line::

    charge AMOUNT [ITEM...]   ring up a purchase: charge the customer recognised at the till
    retry                     try the unfinished purchase again (same purchase: never charged twice)
    cancel                    drop the unfinished purchase, or stop waiting for a customer
    status                    the gate's state and the unfinished purchase, if any
    help                      this list
    quit                      stop the gate (end of input does too)

When the server asks for the customer's PIN the till prints ``PIN?`` and reads the next line
(not echoed on a terminal; an empty line cancels). Results are one line each, starting with a
capitalised word (APPROVED, DECLINED, PIN WRONG...); with ``--json`` every line the till prints
is a JSON object with an ``event`` member instead, for a kiosk program driving the gate.

Scripted (``--charge AMOUNT --item TEXT``, ``--resume``): one purchase, the result on stdout and
as the exit code (``EXIT_CODES``).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol, TextIO

from gate_agent.payment import Checkout, NoPin, Outcome, PaymentResult, PinPad, Purchase
from optin.errors import ConfigurationError

#: The exit code of a scripted purchase, by outcome (2 is a configuration error).
EXIT_CODES: Final[dict[Outcome, int]] = {
    "approved": 0,
    "declined": 3,
    "pin-required": 4,
    "wrong-pin": 4,
    "pin-locked": 5,
    "not-allowed": 5,
    "no-customer": 6,
    "several-customers": 6,
    "gate-unavailable": 6,
    "cancelled": 6,
    "pending": 7,
    "refused": 8,
}

HELP: Final = """\
charge AMOUNT [ITEM...]  ring up a purchase, e.g. "charge 1200 Lunch set": the customer at the
                         till is recognised and charged (PIN asked above the venue's limit)
retry                    try the unfinished purchase again (same purchase: never charged twice)
cancel                   drop the unfinished purchase, or stop waiting for a customer
status                   the gate's state and the unfinished purchase, if any
help                     this list
quit                     stop the gate"""

#: The server takes PINs of up to 16 characters.
MAX_PIN: Final = 16


class TillInputError(ValueError):
    """Something the till typed or passed that cannot be done (shown, never a traceback)."""


# --- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # charge | retry | cancel | status | help | quit
    amount: str = ""
    item: str = ""


_ALIASES: Final = {"exit": "quit", "q": "quit", "?": "help"}
_NAMES: Final = frozenset({"charge", "retry", "cancel", "status", "help", "quit"})


def parse_command(line: str) -> Command | None:
    """One line from the till; None for a blank line. TillInputError says what is wrong."""
    words = line.strip().split(maxsplit=2)
    if not words:
        return None
    name = words[0].lower()
    name = _ALIASES.get(name, name)
    if name not in _NAMES:
        raise TillInputError(f"unknown command {words[0]!r}: type help for the list")
    if name == "charge":
        if len(words) < 2:
            raise TillInputError("charge needs an amount, e.g. charge 1200 Lunch set")
        return Command("charge", words[1], words[2] if len(words) > 2 else "")
    if len(words) > 1:
        raise TillInputError(f"{name} takes nothing after it")
    return Command(name)


# --- what the operator sees ----------------------------------------------------------------------


class Screen:
    """Till output: one human line per event, or one JSON object per line with ``as_json``."""

    def __init__(self, stream: TextIO, *, as_json: bool = False) -> None:
        self._stream = stream
        self._json = as_json
        self._lock = threading.Lock()

    def progress(self, event: str, text: str, **data: Any) -> None:
        self._write({"event": event, "text": text, **data}, text)

    def result(self, result: PaymentResult) -> None:
        self._write({"event": "result", **result.as_json()}, result.message)

    def prompt_pin(self, text: str) -> None:
        self._write({"event": "pin", "text": text}, f"{text}\nPIN?")

    def _write(self, data: dict[str, Any], text: str) -> None:
        line = json.dumps(data, ensure_ascii=False, sort_keys=True) if self._json else text
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class LineReader:
    """Lines from the till on a thread of their own, so a signal can stop a waiting gate."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lines: collections.deque[str | None] = collections.deque()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="gate-till-input", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            for line in self._stream:
                with self._ready:
                    self._lines.append(line.rstrip("\r\n"))
                    self._ready.notify_all()
        except (OSError, ValueError):
            pass
        with self._ready:
            self._lines.append(None)  # end of input
            self._ready.notify_all()

    def next(self, timeout: float) -> str | Literal[False] | None:
        """The next line; None at the end of input; False when nothing came within timeout."""
        with self._ready:
            if not self._lines and not self._ready.wait_for(lambda: bool(self._lines), timeout):
                return False
            line = self._lines[0]
            if line is not None:  # the end stays, for every later call
                self._lines.popleft()
            return line

    def take_if(self, word: str) -> bool:
        """Whether the next line, already typed, is ``word`` (it is then consumed)."""
        with self._ready:
            line = self._lines[0] if self._lines else None
            if line is not None and line.strip().lower() == word:
                self._lines.popleft()
                return True
            return False


@contextlib.contextmanager
def _no_echo(stream: TextIO) -> Iterator[None]:
    """What is typed on a terminal is not shown (the PIN); a pipe is left as it is."""
    try:
        import termios

        fd = stream.fileno()
        if not os.isatty(fd):
            raise OSError
        old = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, AttributeError):
        yield
        return
    new = list(old)
    new[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, new)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, old)


class TillPinPad:
    """The next line the till sends is the PIN; an empty line (or the end of input) cancels."""

    interactive = True

    def __init__(
        self, reader: LineReader, screen: Screen, stream: TextIO, stop: threading.Event
    ) -> None:
        self._reader = reader
        self._screen = screen
        self._stream = stream
        self._stop = stop

    def ask(self, prompt: str) -> str | None:
        self._screen.prompt_pin(prompt)
        with _no_echo(self._stream):
            while not self._stop.is_set():
                line = self._reader.next(0.2)
                if line is False:
                    continue
                if line is None:
                    return None
                pin = line.strip()
                # "cancel" is never sent as a PIN: a wrong one would cost the customer a try.
                return None if not pin or pin.lower() == "cancel" else pin
        return None


class FilePinPad:
    """The PIN from a file, a pipe or ``-`` (stdin), read when the server asks and used once."""

    interactive = False

    def __init__(self, path: Path, stdin: TextIO) -> None:
        self._path = path
        self._stdin = stdin
        self._used = False

    def ask(self, prompt: str) -> str | None:
        if self._used:
            return None  # a wrong PIN is never sent again
        self._used = True
        pin = read_pin(self._path, self._stdin)
        return pin or None


def check_pin_file(path: Path) -> None:
    """ConfigurationError if ``path`` is missing, or a regular file others can read."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigurationError(f"PIN file {path} cannot be opened: {exc.strerror}") from None
    if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o077:
        raise ConfigurationError(_READABLE_PIN_FILE.format(path=path))


_READABLE_PIN_FILE: Final = (
    "PIN file {path} is readable by others: chmod 600 it (or pass the PIN through a pipe or "
    "stdin with --pin-file -)"
)


def read_pin(path: Path, stdin: TextIO) -> str:
    """The first line of ``path``: stdin for ``-``, a pipe (``<(pinpad)``), or a regular file
    only its owner can read. Never echoed or logged."""
    if str(path) == "-":
        line = stdin.readline()
    else:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise TillInputError(f"PIN file {path} cannot be opened: {exc.strerror}") from None
        with os.fdopen(fd, "r", encoding="utf-8") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o077:
                raise TillInputError(_READABLE_PIN_FILE.format(path=path))
            line = handle.readline()
    pin = line.strip()
    if len(pin) > MAX_PIN or any(c.isspace() for c in pin):
        raise TillInputError("the PIN file does not hold a PIN on its first line")
    return pin


# --- the two ways to run a till ------------------------------------------------------------------


class TillProgram(Protocol):
    """What payment mode runs in the main thread while the camera and the pipeline run."""

    result: PaymentResult | None

    def run(self, checkout: Checkout, stop: threading.Event) -> None: ...


class InteractiveTill:
    """The line protocol: commands from ``stdin``, the till's lines on ``stdout``."""

    def __init__(self, stdin: TextIO, stdout: TextIO, *, as_json: bool = False) -> None:
        self._stdin = stdin
        self.screen = Screen(stdout, as_json=as_json)
        self.result: PaymentResult | None = None
        self.results: list[PaymentResult] = []

    def run(self, checkout: Checkout, stop: threading.Event) -> None:
        reader = LineReader(self._stdin)
        reader.start()
        pin_pad = TillPinPad(reader, self.screen, self._stdin, stop)
        self.screen.progress(
            "ready",
            f"till ready ({checkout.currency}): type charge AMOUNT ITEM (e.g. charge 1200 Lunch "
            "set), help or quit",
            currency=checkout.currency,
        )
        self._show_unfinished(checkout)
        while not stop.is_set():
            line = reader.next(0.2)
            if line is False:
                continue
            if line is None:
                return  # end of input
            try:
                command = parse_command(line)
                if command is None:
                    continue
                if command.name == "quit":
                    return
                self._do(command, checkout, pin_pad, reader)
            except TillInputError as exc:
                self.screen.progress("error", f"ERROR: {exc}")

    def _do(
        self, command: Command, checkout: Checkout, pin_pad: PinPad, reader: LineReader
    ) -> None:
        pending = checkout.store.load()
        if command.name == "help":
            for line in HELP.splitlines():
                self.screen.progress("help", line)
        elif command.name == "status":
            self.screen.progress(
                "status",
                f"gate: {checkout.status()}; unfinished purchase: "
                + (_describe(pending) if pending else "none"),
                gate=checkout.status(),
                unfinished=pending.key if pending else None,
            )
        elif command.name == "cancel":
            if pending is None:
                raise TillInputError("there is no unfinished purchase to cancel")
            checkout.store.delete()
            self.screen.progress("cancelled", cancel_text(pending), purchase_id=pending.key)
        elif command.name == "retry":
            if pending is None:
                raise TillInputError("there is no unfinished purchase to retry")
            self._show(checkout.complete(pending, pin_pad, self.screen))
        elif command.name == "charge":
            if pending is not None and pending.stage == "sent":
                raise TillInputError(
                    f"the purchase of {pending.amount} may have been charged: type retry to "
                    "finish it (never charged twice) or cancel to drop it"
                )
            try:
                purchase = checkout.new_purchase(command.amount, command.item)
            except ValueError as exc:
                raise TillInputError(str(exc)) from None
            if pending is not None:  # waiting for a PIN: nothing was charged
                checkout.store.delete()
            self._show(
                checkout.charge(
                    purchase, pin_pad, self.screen, cancelled=lambda: reader.take_if("cancel")
                )
            )

    def _show(self, result: PaymentResult) -> None:
        self.result = result
        self.results.append(result)
        self.screen.result(result)

    def _show_unfinished(self, checkout: Checkout) -> None:
        pending = checkout.store.load()
        if pending is not None:
            self.screen.progress(
                "unfinished",
                f"unfinished purchase: {_describe(pending)}: type retry or cancel",
                purchase_id=pending.key,
            )


class ScriptedCharge:
    """One purchase from the command line (``--charge``/``--resume``): for kiosks and tests."""

    def __init__(
        self,
        *,
        amount: str | None = None,
        item: str = "",
        purchase_id: str | None = None,
        resume: bool = False,
        pin_pad: PinPad | None = None,
        progress: TextIO = sys.stderr,
    ) -> None:
        if (amount is None) == (not resume):
            raise ConfigurationError("give either an amount to charge or resume")
        self._amount = amount
        self._item = item
        self._purchase_id = purchase_id
        self._resume = resume
        self._pin_pad = pin_pad or NoPin()
        self.screen = Screen(progress)
        self.result: PaymentResult | None = None

    def run(self, checkout: Checkout, stop: threading.Event) -> None:
        pending = checkout.store.load()
        if self._resume:
            if pending is None:
                raise TillInputError("there is no unfinished purchase to resume")
            self.screen.progress("resuming", f"resuming the purchase of {_describe(pending)}")
            self.result = checkout.complete(pending, self._pin_pad, self.screen)
            return
        assert self._amount is not None
        if pending is not None and pending.key == self._purchase_id:
            # The same purchase id again: that purchase, not a new one.
            self.result = checkout.complete(pending, self._pin_pad, self.screen)
            return
        if pending is not None and pending.stage == "sent":
            self.result = PaymentResult(
                outcome="pending",
                message=(
                    f"NOT STARTED: the earlier purchase of {_describe(pending)} may have been "
                    "charged: run with --resume to finish it (never charged twice), or "
                    "--cancel-pending to drop it"
                ),
                purchase_id=pending.key,
                amount_minor=pending.amount_minor,
                currency=pending.currency,
                item=pending.item,
            )
            return
        try:
            purchase = checkout.new_purchase(self._amount, self._item, self._purchase_id)
        except ValueError as exc:
            raise TillInputError(str(exc)) from None
        if pending is not None:
            checkout.store.delete()  # it was waiting for a PIN: nothing was charged
        self.result = checkout.charge(purchase, self._pin_pad, self.screen)


def _describe(purchase: Purchase) -> str:
    state = "outcome unknown" if purchase.stage == "sent" else "waiting for the PIN"
    return f"{purchase.amount} for {purchase.item} ({state}; purchase {purchase.key})"


def cancel_text(purchase: Purchase) -> str:
    if purchase.stage == "sent":
        return (
            f"purchase of {purchase.amount} dropped; its outcome was unknown: check purchase "
            f"{purchase.key} in the venue's console before charging again"
        )
    return f"purchase of {purchase.amount} dropped: nothing was charged"
