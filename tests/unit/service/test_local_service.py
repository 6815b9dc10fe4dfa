"""The running service's notice in its data folder: written 0600 with a token, removed at shutdown, stale once its
process is gone; a second service on the same folder is refused."""

import os
import shutil
import stat
import subprocess
import sys
from dataclasses import replace

import pytest

from service.local_service import (
    TOKEN_ENV,
    ServiceNotice,
    ServiceRunningError,
    advertise,
    is_alive,
    local_url,
    notice_path,
    process_start_time,
    read_notice,
    running_service,
    write_notice,
)

pytestmark = pytest.mark.unit


def _ended_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_the_notice_lives_while_the_service_serves(settings):
    path = notice_path(settings)
    with advertise(settings) as notice:
        assert notice is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the token: its owner only
        assert read_notice(path) == notice
        assert notice.pid == os.getpid()
        assert notice.url == "http://127.0.0.1:1416"
        assert len(notice.token) >= 40
        assert os.environ[TOKEN_ENV] == notice.token  # for the worker processes
        assert running_service(settings) == notice
    assert not path.exists()
    assert TOKEN_ENV not in os.environ
    assert running_service(settings) is None


def test_each_start_has_its_own_token(settings):
    with advertise(settings) as first:
        pass
    with advertise(settings) as second:
        pass
    assert first.token != second.token


def _notice(settings, pid: int, **fields) -> ServiceNotice:
    folder = str(notice_path(settings).parent.resolve())
    return ServiceNotice(pid=pid, url="http://127.0.0.1:1", token="t", data_dir=folder, **fields)


def test_a_notice_whose_process_is_gone_is_stale(settings):
    path = notice_path(settings)
    write_notice(path, _notice(settings, _ended_pid()))
    assert running_service(settings) is None
    with advertise(settings) as notice:  # a new service takes the folder over
        assert read_notice(path) == notice


def test_a_reused_pid_is_not_taken_for_the_service(settings):
    me = ServiceNotice(pid=os.getpid(), url="http://127.0.0.1:1", token="t", started=process_start_time(os.getpid()))
    assert me.started is not None
    assert is_alive(me)
    assert not is_alive(replace(me, started="1"))  # the same pid, another process


def test_a_second_service_on_the_same_data_folder_is_refused(settings):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        path = notice_path(settings)
        live = _notice(settings, other.pid, started=process_start_time(other.pid))
        write_notice(path, live)
        with pytest.raises(ServiceRunningError, match=f"pid {other.pid}"), advertise(settings):
            pass
        assert read_notice(path) == live  # left as it was
    finally:
        other.kill()
        other.wait()


def test_servers_mode_writes_no_notice_and_finds_none(settings):
    servers = settings.model_copy(update={"stores": settings.stores.model_copy(update={"mode": "servers"})})
    write_notice(notice_path(servers), _notice(servers, os.getpid()))
    assert running_service(servers) is None  # `rag index` reaches the servers itself
    notice_path(servers).unlink()
    with advertise(servers) as notice:
        assert notice is None
        assert not notice_path(servers).exists()


def test_a_notice_copied_with_its_folder_names_the_original(settings, tmp_path):
    with advertise(settings):
        copy = tmp_path / "backup"
        shutil.copytree(notice_path(settings).parent, copy)
        restored = settings.model_copy(update={"stores": settings.stores.model_copy(update={"data_dir": str(copy)})})
        assert running_service(restored) is None  # the live service serves the original folder, not this one
        with advertise(restored) as notice:  # a service may start on the copy
            assert notice.data_dir == str(copy.resolve())


def test_unreadable_notices_are_ignored(settings):
    path = notice_path(settings)
    path.parent.mkdir(parents=True)
    for text in ("", "{", "[]", '{"pid": "x", "url": "u", "token": "t"}', '{"url": "u"}'):
        path.write_text(text, encoding="utf-8")
        assert read_notice(path) is None
        assert running_service(settings) is None


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8"),
        ("0.0.0.0", "http://127.0.0.1:8"),
        ("::", "http://[::1]:8"),
        ("::1", "http://[::1]:8"),
        ("10.1.2.3", "http://10.1.2.3:8"),
        ("localhost", "http://localhost:8"),
    ],
)
def test_local_url(host, url):
    assert local_url(host, 8) == url
