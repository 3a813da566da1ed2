"""The benchmark suite still runs; and, on demand, connmw meets its cost targets.

The default run only proves the suite works: ``python -m tests.benchmarks.run --smoke``
in a subprocess (so nothing of ``tests/benchmarks`` is imported here) times a few
requests of every in-process scenario and must report every candidate, connmw included,
without a failure. No speed is asserted there. The applications servers import for the
load and instruction counts (``apps.<app>__<wrapper>``) are each served once through
uvicorn's protocol, in-process, and must answer with the Connection field their wrapper
stands for: a floor that says nothing would make the comparison meaningless.

``-m benchmark`` runs the full in-process suite and asserts the README's targets: connmw's
added cost at most 0.7x Starlette's TrustedHostMiddleware's (ASGI) and 0.35x werkzeug's
ProxyFix's (WSGI), best of interleaved rounds, all measured in the same run; runs wrk
against every server (no errors; no req/s asserted: the machine's other load moves it
more than the margins); and counts instructions per request in uvicorn under callgrind
against the keep-alive field's floor. Not under ``-m load``: these assert speed. They
measure the build the checkout holds: the ASGI ratio is met by the accelerated build
(``python -m tests.build_accelerated`` first; README, "Benchmarks"), the pure-Python
one is at 0.74.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(tmp_path: Path, *args: str, timeout: float) -> dict[str, Any]:
    out = tmp_path / "bench.json"
    subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.run", *args, "--json", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.mark.timeout(30)
def test_inprocess_suite_runs(tmp_path: Path) -> None:
    result = _run(tmp_path, "--smoke", "--only", "inprocess", timeout=25)
    rows = result["inprocess"]["rows"]
    failed = [(row["api"], row["scenario"], row["candidate"], row["error"]) for row in rows if row["error"]]
    assert failed == []
    seen = {(row["api"], row["candidate"]) for row in rows}
    assert {("asgi", "connmw"), ("wsgi", "connmw"), ("asgi", "starlette TrustedHost")} <= seen
    assert {("wsgi", "werkzeug ProxyFix"), ("asgi", "bare"), ("wsgi", "bare")} <= seen
    assert all(row["samples"] and row["best"] > 0 for row in rows)
    assert {ratio["name"] for ratio in result["inprocess"]["ratios"]} >= {
        "ASGI connmw / TrustedHost",
        "WSGI connmw / ProxyFix",
    }


SERVED_CONNECTION = {  # what each wrapper must say on a keep-alive HTTP/1.1 response
    "bare": None,
    "connmw": b"keep-alive",
    "keep-alive field only": b"keep-alive",
    "connmw, explicit_keep_alive=0": None,
}


@pytest.mark.parametrize("application", ["asgi_plain", "starlette"])
@pytest.mark.parametrize("wrapper", list(SERVED_CONNECTION))
def test_served_applications_answer_as_their_wrapper_says(application: str, wrapper: str) -> None:
    import asyncio  # noqa: PLC0415 (only this test drives the benchmark's applications)

    from tests.benchmarks import apps, bench_inprocess  # noqa: PLC0415

    app = getattr(apps, f"{application}__{apps.SERVED_NAMES[wrapper]}")

    async def serve_two() -> Any:
        protocol, transport = bench_inprocess._uvicorn_connection(app)  # on this loop
        await bench_inprocess._uvicorn_batch(protocol, 2)
        return transport

    transport = asyncio.run(serve_two())
    assert transport.responses == 2
    head = transport.first.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert head[0] == b"HTTP/1.1 200 OK"
    connection = [
        line.split(b":", 1)[1].strip() for line in head[1:] if line.lower().startswith(b"connection:")
    ]
    expected = SERVED_CONNECTION[wrapper]
    assert connection == ([] if expected is None else [expected])


@pytest.mark.benchmark
@pytest.mark.timeout(300)
def test_inprocess_targets(tmp_path: Path) -> None:
    result = _run(tmp_path, "--only", "inprocess", timeout=280)
    ratios = {ratio["name"]: ratio for ratio in result["inprocess"]["ratios"]}
    for name, target in (("ASGI connmw / TrustedHost", 0.7), ("WSGI connmw / ProxyFix", 0.35)):
        assert ratios[name]["best"] is not None, name
        assert ratios[name]["best"] <= target, (name, ratios[name])


@pytest.mark.benchmark
@pytest.mark.timeout(600)
def test_load_runs_clean(tmp_path: Path) -> None:
    """wrk against every server: no errors, and each server says what its wrapper stands for.

    No req/s target is asserted here: on a shared machine a round moves by more than the
    targets' margin (README, "Benchmarks"); the instruction counts below judge them.
    """
    result = _run(tmp_path, "--quick", "--only", "load", timeout=580)
    rows = result["load"]["results"]
    assert [row["error"] for row in rows if row["error"]] == []
    assert [(row["comparison"], row["wrapper"], row["errors"]) for row in rows if row["errors"]] == []
    for row in rows:  # (bare gunicorn says keep-alive itself, bare uvicorn and waitress nothing)
        assert row["connection_bare"] == ("keep-alive" if "gunicorn" in row["comparison"] else None), row
        quiet = row["wrapper"] == "connmw, explicit_keep_alive=0" or "waitress" in row["comparison"]
        assert row["connection_wrapped"] == (None if quiet else "keep-alive"), row
        assert len(row["ratios"]) == result["load"]["settings"]["rounds"]


@pytest.mark.benchmark
@pytest.mark.timeout(600)
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind (a Debian package)")
def test_instruction_counts(tmp_path: Path) -> None:
    """connmw's instructions per request in uvicorn, against the keep-alive field's floor.

    Accelerated build: connmw adds at most 15 % more than a middleware that only appends
    ``Connection: keep-alive``, and without that field meets the load targets (0.93 plain,
    0.96 Starlette). Pure Python: at most 60 % more than that floor (measured: 50 %).
    """
    import connmw  # noqa: PLC0415 (the build of this checkout is the one measured)

    rows = _run(tmp_path, "--only", "instructions", timeout=580)["instructions"]["rows"]
    assert [row["error"] for row in rows if row["error"]] == []
    by = {(row["application"], row["candidate"]): row for row in rows}
    for application in ("asgi_plain", "starlette"):
        floor = by[application, "keep-alive field only"]["added"]
        connmw_row = by[application, "connmw"]
        quiet = by[application, "connmw, explicit_keep_alive=0"]
        assert connmw_row["connection"] == "keep-alive" and quiet["connection"] is None
        assert quiet["added"] < connmw_row["added"]
        if connmw.accelerated:
            assert connmw_row["added"] <= 1.15 * floor, (application, connmw_row["added"], floor)
            assert quiet["ratio"] >= quiet["target"], (application, quiet["ratio"], quiet["target"])
        else:
            assert connmw_row["added"] <= 1.6 * floor, (application, connmw_row["added"], floor)
