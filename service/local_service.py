"""The notice a running service leaves in its data folder, so that `rag index` hands its runs to it.

In embedded mode the stores are files that the process which opened them holds (Qdrant Edge locks its
folder): while `rag serve` runs, another process cannot open them. So `rag serve` writes `<data_dir>/service.json`
when it starts — its pid, its URL and a random token, readable by its own user only — and removes it when it stops.
`rag index` reads it: when the service it names is alive, the paths go to that service (`service.index_handoff`),
which indexes them in its own process, with the store instances its graphs answer from. A notice whose process is
gone (the service was killed) is stale and ignored.

In servers mode every process reaches the same Qdrant and Elasticsearch servers: `rag index` indexes by itself and
no notice is written (replicas share one `/data` folder, where notices would overwrite each other).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from service.settings import Settings

NOTICE_FILE = "service.json"
TOKEN_ENV = "RAG_LOCAL_TOKEN"  # noqa: S105 (a variable name) how `rag serve` gives its token to its workers
TOKEN_HEADER = "x-rag-local-token"  # noqa: S105 (a header name)


class ServiceRunningError(Exception):
    """Another live service already serves the data folder (a second `rag serve` on it cannot open the stores)."""


@dataclass(frozen=True)
class ServiceNotice:
    """What `<data_dir>/service.json` holds."""

    pid: int
    url: str
    token: str
    started: str | None = None  # the process's start time (Linux), so that a reused pid is not taken for it
    data_dir: str = ""  # the folder it was written for: a copy of the folder (a backup) names another one


def notice_path(settings: Settings) -> Path:
    return settings.resolve_path(settings.stores.data_dir) / NOTICE_FILE


def process_start_time(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since boot (`/proc/<pid>/stat`, field 22); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name, in parentheses, may hold spaces
    return fields[19] if len(fields) > 19 else None


def is_alive(notice: ServiceNotice) -> bool:
    """The process that wrote the notice still runs (and is that process, not a later one given its pid)."""
    try:
        os.kill(notice.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user
        pass
    return notice.started is None or process_start_time(notice.pid) in (None, notice.started)


def local_url(host: str, port: int) -> str:
    """The URL a process on this machine reaches the service at (a wildcard address is reached on loopback)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 (read, not bound)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    return f"http://{host}:{port}"


def read_notice(path: Path) -> ServiceNotice | None:
    """The notice at `path`; None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ServiceNotice(
            pid=int(data["pid"]),
            url=str(data["url"]),
            token=str(data["token"]),
            started=data.get("started"),
            data_dir=str(data.get("data_dir", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_service(settings: Settings) -> ServiceNotice | None:
    """The live service serving this configuration's data folder in embedded mode, if any."""
    if settings.stores.mode != "embedded":
        return None
    path = notice_path(settings)
    notice = read_notice(path)
    if notice is None or notice.data_dir != str(path.parent.resolve()):
        return None
    return notice if is_alive(notice) else None


def write_notice(path: Path, notice: ServiceNotice) -> None:
    """Write the notice atomically, readable and writable by its owner only (mode 0600: it holds the token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(notice), f)
    os.replace(tmp, path)


@contextlib.contextmanager
def advertise(settings: Settings) -> Iterator[ServiceNotice | None]:
    """
    While serving: the notice in the data folder (embedded mode) and its token in `TOKEN_ENV` for the workers.

    :raises ServiceRunningError: When another live service's notice is there.
    :returns: The notice written, or None in servers mode.
    """
    if settings.stores.mode != "embedded":
        yield None
        return
    path = notice_path(settings)
    other = running_service(settings)
    if other is not None and other.pid != os.getpid():
        raise ServiceRunningError(
            f"another service (pid {other.pid}, {other.url}) already serves the data folder {path.parent}: "
            "stop it first, or set another stores.data_dir"
        )
    pid = os.getpid()
    notice = ServiceNotice(
        pid=pid,
        url=local_url(settings.server.host, settings.server.port),
        token=secrets.token_urlsafe(32),
        started=process_start_time(pid),
        data_dir=str(path.parent.resolve()),
    )
    write_notice(path, notice)
    os.environ[TOKEN_ENV] = notice.token
    try:
        yield notice
    finally:
        os.environ.pop(TOKEN_ENV, None)
        if read_notice(path) == notice:  # still ours
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
