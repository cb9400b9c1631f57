"""A throwaway PostgreSQL server for the test suite, started from the PostgreSQL binaries.

``PostgresServer.start()`` runs initdb into a fresh temp directory, starts ``postgres`` on
127.0.0.1 at a free port (its unix socket stays inside the temp dir), with durability switched
off for speed, and ``stop()`` shuts it down and removes the directory. initdb and postgres refuse
to run as root, so as root the server runs as the ``postgres`` system user (else ``nobody``)
through ``setpriv``/``runuser``. ``OPTIN_TEST_POSTGRES_URL`` points the suite at an existing
server instead; databases are then created on it and dropped afterwards. ``start(settings=...)``
overrides server settings (``benchmarks/load.py`` turns durability back on).

Administrative SQL (CREATE/DROP DATABASE) goes through asyncpg in a helper thread, so it works
from sync fixtures whether or not an event loop is running, and needs no client binaries.

``shutdown()``, ``resume()`` and ``restart()`` stop a server we started and start it again on the
same port, data and settings, so clients' URLs stay valid (the fault tests restart it under load).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL, make_url

T = TypeVar("T")

SUPERUSER = "optin"
START_TIMEOUT_S = 60.0
# Durability is pointless for a server that is deleted after the run.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
}


class PostgresUnavailableError(RuntimeError):
    """The server could not be started."""


class PostgresBinariesNotFoundError(PostgresUnavailableError):
    """No PostgreSQL server binaries on this machine: a reason to skip, outside CI."""


def find_bin_dir() -> Path:
    """The directory holding initdb and postgres: PATH first, then /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(on_path).resolve().parent
    candidates = []
    for directory in Path("/usr/lib/postgresql").glob("*/bin"):
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            version = tuple(int(part) for part in re.findall(r"\d+", directory.parent.name))
            candidates.append((version, directory))
    if not candidates:
        raise PostgresBinariesNotFoundError(
            "no PostgreSQL server binaries (initdb, postgres) on PATH"
            " or in /usr/lib/postgresql/*/bin"
        )
    return max(candidates)[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion in a fresh thread with its own event loop."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(factory()))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            error.append(exc)

    thread = threading.Thread(target=target, name="pg-admin")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


@dataclass
class PostgresServer:
    """A running server. ``admin_url`` can create databases: for a server we started, the
    superuser on its ``postgres`` database; for an external one, the URL we were given.
    ``root`` is the temp directory of a server we started (None for an external server)."""

    admin_url: URL
    root: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = 0.0
    _created: list[str] = field(default_factory=list)

    # --- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def external(cls, url: str) -> PostgresServer:
        """Use an existing server; the URL's user needs CREATEDB."""
        parsed = make_url(url)
        return cls(admin_url=parsed.set(drivername="postgresql+asyncpg"))

    @classmethod
    def start(
        cls, bin_dir: Path | None = None, *, settings: Mapping[str, str] | None = None
    ) -> PostgresServer:
        """initdb and start a server; ``settings`` override or extend ``SERVER_SETTINGS``."""
        bin_dir = bin_dir or find_bin_dir()
        began = time.monotonic()
        root = Path(tempfile.mkdtemp(prefix="optin-pg-"))
        try:
            run_as = _run_as_prefix(root)
            data = root / "data"
            _check_call(
                [
                    *run_as,
                    str(bin_dir / "initdb"),
                    "--pgdata",
                    str(data),
                    "--username",
                    SUPERUSER,
                    "--auth",
                    "trust",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C",
                    "--no-sync",
                ],
                log=root / "initdb.log",
            )
            process, port = _launch(
                run_as, bin_dir, data, root, {**SERVER_SETTINGS, **(settings or {})}
            )
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        server = cls(
            admin_url=URL.create(
                "postgresql+asyncpg",
                username=SUPERUSER,
                host="127.0.0.1",
                port=port,
                database="postgres",
            ),
            root=root,
            process=process,
        )
        server.startup_seconds = time.monotonic() - began
        return server

    def stop(self) -> None:
        """Stop our server and delete its files, or drop what we created on an external one."""
        if self.root is None:
            for name in reversed(self._created):
                with contextlib.suppress(Exception):
                    self.drop_database(name)
            return
        if self.process is not None and self.process.poll() is None:
            # SIGINT is PostgreSQL's "fast shutdown": it does not wait for clients to leave.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGQUIT)
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
        self._created.clear()

    def shutdown(self) -> None:
        """Stop our server (fast shutdown) but keep its data directory, for ``resume()``."""
        if self.root is None:
            raise RuntimeError("only a server started by the test suite can be shut down")
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGQUIT)
                self.process.wait(timeout=10)
        self.process = None

    def resume(self) -> float:
        """Start our server again on the same port, data directory and settings (its command
        line as PostgreSQL wrote it to ``postmaster.opts``); the seconds until it answered."""
        if self.root is None:
            raise RuntimeError("only a server started by the test suite can be resumed")
        if self.process is not None and self.process.poll() is None:
            return 0.0
        began = time.monotonic()
        data = self.root / "data"
        command = shlex.split((data / "postmaster.opts").read_text())
        run_as = _run_as_prefix(self.root)
        with (self.root / "postgres.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*run_as, *command],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=None if run_as else _die_with_parent,
            )
        port = self.admin_url.port
        assert port is not None
        if not _wait_ready(self.process, port):
            tail = (self.root / "postgres.log").read_text(errors="replace")[-2000:]
            raise PostgresUnavailableError(f"postgres did not start again: {tail}")
        return time.monotonic() - began

    def restart(self, down_for: float = 0.0) -> float:
        """``shutdown()``, ``down_for`` seconds without a server, ``resume()``: same port and
        data, so clients' URLs stay valid. The seconds from the shutdown until it answered."""
        began = time.monotonic()
        self.shutdown()
        time.sleep(down_for)
        self.resume()
        return time.monotonic() - began

    # --- databases -----------------------------------------------------------------------------

    def url(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a database (optionally a copy of ``template``) and return its URL."""
        name = name or f"optin_test_{uuid.uuid4().hex[:12]}"
        _check_identifier(name)
        sql = f'CREATE DATABASE "{name}"'
        if template is not None:
            _check_identifier(template)
            sql += f' TEMPLATE "{template}"'
        self.execute(sql)
        self._created.append(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        _check_identifier(name)
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._created:
            self._created.remove(name)

    def execute(self, sql: str, database: str | None = None) -> None:
        """Run one statement, by default in the admin database, outside any transaction."""
        url = self.admin_url.set(database=database) if database else self.admin_url

        async def run() -> None:
            connection = await asyncpg.connect(
                user=url.username,
                password=url.password,
                host=url.host,
                port=url.port,
                database=url.database,
            )
            try:
                await connection.execute(sql)
            finally:
                await connection.close()

        _run_async(run)


def _check_identifier(name: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a safe database name: {name!r}")


def _run_as_prefix(root: Path) -> list[str]:
    """The command prefix that drops root, after handing ``root`` to that user."""
    if os.geteuid() != 0:
        return []
    for candidate in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(candidate)
        except KeyError:
            continue
        break
    else:
        raise PostgresUnavailableError(
            "running as root, and neither a 'postgres' nor 'nobody' user"
        )
    os.chown(root, user.pw_uid, user.pw_gid)
    for ancestor in root.parents:
        if not ancestor.stat().st_mode & 0o001:
            raise PostgresUnavailableError(
                f"{ancestor} is not searchable by {user.pw_name}; point TMPDIR at a directory it"
                " can reach, such as /tmp"
            )
    setpriv = shutil.which("setpriv")
    if setpriv:
        # setpriv execs in place: the Popen pid is the postmaster itself, which we signal later.
        return [
            setpriv,
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--init-groups",
            "--reset-env",
            # If pytest dies without cleaning up, the server shuts down instead of lingering.
            "--pdeathsig=SIGINT",
            "--",
        ]
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user.pw_name, "--"]
    raise PostgresUnavailableError("running as root, and neither setpriv nor runuser is available")


def _check_call(command: list[str], log: Path) -> None:
    with log.open("wb") as out:
        completed = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if completed.returncode != 0:
        raise PostgresUnavailableError(
            f"{log.stem} failed ({completed.returncode}): {log.read_text(errors='replace')[-2000:]}"
        )


def _die_with_parent() -> None:
    # Same as setpriv's --pdeathsig when we need no user switch: PR_SET_PDEATHSIG = 1.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGINT, 0, 0, 0)


def _launch(
    run_as: list[str], bin_dir: Path, data: Path, root: Path, settings: Mapping[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    # The port is free when we look but could be taken before postgres binds it: retry.
    last_error = ""
    for _attempt in range(5):
        port = _free_port()
        options = {**settings, "port": str(port), "unix_socket_directories": str(root)}
        command = [*run_as, str(bin_dir / "postgres"), "-D", str(data)]
        for key, value in options.items():
            command += ["-c", f"{key}={value}"]
        log_path = root / "postgres.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Ctrl-C reaches pytest only, which then stops the server in order.
                start_new_session=True,
                preexec_fn=None if run_as else _die_with_parent,
            )
        if _wait_ready(process, port):
            return process, port
        if process.poll() is None:
            process.kill()
            process.wait()
        last_error = log_path.read_text(errors="replace")[-2000:]
        if "could not bind" not in last_error and "in use" not in last_error:
            break
    raise PostgresUnavailableError(f"postgres did not start: {last_error}")


def _wait_ready(process: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S

    async def ping() -> bool:
        try:
            connection = await asyncpg.connect(
                user=SUPERUSER, host="127.0.0.1", port=port, database="postgres", timeout=2
            )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await connection.close()
        return True

    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _run_async(ping):
            return True
        time.sleep(0.05)
    return False
