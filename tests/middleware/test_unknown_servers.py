"""The unknown profile on every known server: never worse than the server without connmw.

Every server the suite starts runs the test apps (``/bare/...`` unwrapped, the rest behind
connmw) with recognition switched off, ``CONNMW_SERVER=unknown``: connmw then acts as it
does on a server it has never met (docs/policy.md, "A server connmw does not recognise").
Each case of ``tests/never_worse.py`` is sent bare and wrapped, and the wrapped response
must be at least as good as the bare one on every property (:func:`tests.never_worse.worse`).
Drain, which a bare application knows nothing of, is compared with the application's own
close: connmw closing on the application's behalf.

Observations are made once per server (its cases concurrently, then drain), and each
(server, case) is its own test.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import hide_connmw_variables
from tests.never_worse import CASES, Observed, observe, worse
from tests.wire import (
    Server,
    ServerPool,
    daphne_cmd,
    django_cmd,
    granian_cmd,
    gunicorn_cmd,
    hypercorn_cmd,
    mod_wsgi_cmd,
    server_cmd,
    uvicorn_cmd,
    uwsgi_nginx_cmd,
    werkzeug_cmd,
    wsgiref_cmd,
)

pytestmark = pytest.mark.timeout(120)

WSGI = "tests.apps.wrapped_wsgi:app"
ASGI = "tests.apps.wrapped_asgi:app"

SERVERS: dict[str, Callable[[int], list[str]]] = {
    "wsgiref": lambda port: wsgiref_cmd(WSGI, port),
    "django": lambda port: django_cmd(WSGI, port),
    "werkzeug": lambda port: werkzeug_cmd(WSGI, port),
    "gunicorn-sync": lambda port: gunicorn_cmd(WSGI, port, worker="sync"),
    "gunicorn-gthread": lambda port: gunicorn_cmd(WSGI, port, threads=4),
    "granian-wsgi": lambda port: granian_cmd(WSGI, port, interface="wsgi"),
    "hypercorn-wsgi": lambda port: hypercorn_cmd(WSGI, port),
    "waitress": lambda port: server_cmd("waitress", WSGI, port),
    "cheroot": lambda port: server_cmd("cheroot", WSGI, port),
    "twisted": lambda port: server_cmd("twisted", WSGI, port),
    "uwsgi": lambda port: server_cmd("uwsgi", WSGI, port),
    "uwsgi-http-socket": lambda port: server_cmd("uwsgi-http-socket", WSGI, port),
    "uwsgi-router": lambda port: server_cmd("uwsgi-router", WSGI, port),
    "uwsgi-socket": lambda port: server_cmd("uwsgi", WSGI, port, mode="socket"),  # behind nginx
    "mod_wsgi": lambda port: mod_wsgi_cmd(WSGI, port),
    "mod_wsgi-embedded": lambda port: mod_wsgi_cmd(WSGI, port, embedded=True),
    "uvicorn-h11": lambda port: uvicorn_cmd(ASGI, port, http="h11", ws="wsproto"),
    "uvicorn-httptools": lambda port: uvicorn_cmd(ASGI, port, http="httptools", ws="websockets-sansio"),
    "hypercorn": lambda port: hypercorn_cmd(ASGI, port),
    "hypercorn-trio": lambda port: hypercorn_cmd(ASGI, port, worker="trio"),
    "granian-asgi": lambda port: granian_cmd(ASGI, port),
    "daphne": lambda port: daphne_cmd(ASGI, port),
}
BEHIND_NGINX = {"uwsgi-socket"}

Observations = dict[str, tuple[Observed, Observed]]
"""Case id -> (wrapped, bare)."""


def run_cases(port: int, drain_file: Path) -> Observations:
    """Every case bare and wrapped; the cases concurrently, drain last (its file created)."""

    def both(case_index: int) -> tuple[str, tuple[Observed, Observed]]:
        case = CASES[case_index]
        bare = observe(port, case, "/bare" + (case.bare_path or case.path))
        return case.id, (observe(port, case, case.path), bare)

    ordinary = [index for index, case in enumerate(CASES) if not case.drain]
    with ThreadPoolExecutor(max_workers=4) as pool:
        seen = dict(pool.map(both, ordinary))
    drain_file.touch()
    time.sleep(1.2)  # connmw looks for its drain file at most once a second
    try:
        seen.update(both(index) for index, case in enumerate(CASES) if case.drain)
    finally:
        drain_file.unlink()
    return seen


@pytest.fixture(scope="module")
def observed() -> Iterator[Callable[[str], Observations]]:
    """Each server's observations, made once on first use, the server stopped after them."""
    cache: dict[str, Observations] = {}
    with pytest.MonkeyPatch.context() as patch:
        hide_connmw_variables(patch)

        def get(name: str) -> Observations:
            if name not in cache:
                # Not under pytest's own (private) directory: Apache's children, www-data
                # when started as root, look for the drain file too.
                directory = Path(tempfile.mkdtemp(prefix=f"connmw-{name}-"))
                directory.chmod(0o755)
                env = {"CONNMW_SERVER": "unknown", "CONNMW_DRAIN_FILE": str(directory / "drain")}
                pool = ServerPool()
                try:
                    server: Server = pool(SERVERS[name], env=env)
                    if name in BEHIND_NGINX:
                        upstream = server.port
                        server = pool(lambda port: uwsgi_nginx_cmd(directory, upstream, port))
                    cache[name] = run_cases(server.port, directory / "drain")
                finally:
                    pool.close()
                    shutil.rmtree(directory, ignore_errors=True)
            return cache[name]

        yield get


@pytest.mark.parametrize("case", [case.id for case in CASES])
@pytest.mark.parametrize("name", list(SERVERS))
def test_unknown_is_never_worse_than_the_bare_server(
    observed: Callable[[str], Observations], name: str, case: str
) -> None:
    wrapped, bare = observed(name)[case]
    assert worse(wrapped, bare) == [], f"wrapped {wrapped}\nbare    {bare}"


@pytest.mark.parametrize("name", ["wsgiref", "django", "waitress"])
def test_a_server_that_refuses_the_field_never_answers_500_for_it(
    observed: Callable[[str], Observations], name: str
) -> None:
    """wsgiref and Django assert, waitress raises, on connmw's close: sent again without it."""
    wrapped, bare = observed(name)["app-close"]
    assert (bare.status, wrapped.status) == (500, 200)
    assert wrapped.connection == ()


@pytest.mark.parametrize("name", ["granian-wsgi", "hypercorn-wsgi", "uwsgi-router", "mod_wsgi"])
def test_the_apps_close_is_said_once_and_honoured(observed: Callable[[str], Observations], name: str) -> None:
    """Where PEP 3333's "no field at all" lost the application's close (the server then kept the
    connection the application asked to close), one close goes out and the server acts on it."""
    for case in ("app-close", "drain"):
        wrapped, _ = observed(name)[case]
        assert (wrapped.connection, wrapped.closed) == (("close",), True), case
