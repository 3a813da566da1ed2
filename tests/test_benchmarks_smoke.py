"""The benchmark suite still runs; and, on demand, connmw meets its cost targets.

The default run only proves the suite works: ``python -m tests.benchmarks.run --smoke``
in a subprocess (so nothing of ``tests/benchmarks`` is imported here) times a few
requests of every in-process scenario and must report every candidate, connmw included,
without a failure. No speed is asserted there. The applications servers import for the
load and instruction counts (``apps.<app>__<wrapper>``) are each served once through
uvicorn's protocol, in-process, and must answer with the Connection field their wrapper
stands for: a floor that says nothing would make the comparison meaningless.

``-m benchmark`` runs the full in-process suite and the instruction counts once each, for
the build the checkout holds (``python -m tests.build_accelerated`` first for the
accelerated one), and asserts the cost targets of docs/benchmarks.md: every figure stays
within a guard of what was measured, and each target is asserted for its build, a strict
xfail giving the measured figure where it is not met. It also runs wrk against every
server (no errors; no req/s asserted: the machine's other load moves it more than the
margins). Not under ``-m load``: these assert speed.
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
    "connmw, metrics=prometheus": b"keep-alive",
    "connmw, metrics=otel": b"keep-alive",
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


# The cost targets (docs/benchmarks.md, "Under load and the targets"), per build: connmw's
# added cost over the peer's, best of interleaved rounds in one run (a miss is measured in a
# second run before it counts, InprocessRuns). ``guard``: a bound
# every run must keep (the figure measured on 2026-12-04 and a margin for noise);
# ``target``: the goal, with the measured reason wherever it is not met.
_MISSED_ASGI_ACCELERATED = (
    "measured 0.44-0.47; a minimal compiled async middleware doing only the least of "
    "connmw's work (read Connection, publish the facts, wrap send, copy the start and "
    "append the field) measures 0.39 in the same run (docs/benchmarks.md)"
)
_MISSED_ASGI_PURE = "measured 0.74-0.78: the rules' request scan and response check in bytecode"
INPROCESS_TARGETS = [
    ("ASGI connmw / TrustedHost", True, 0.55, 0.35, _MISSED_ASGI_ACCELERATED),
    ("ASGI connmw / TrustedHost", False, 0.9, 0.7, _MISSED_ASGI_PURE),
    ("WSGI connmw / ProxyFix", True, 0.18, 0.15, None),
    ("WSGI connmw / ProxyFix", False, 0.45, 0.35, None),
]


class InprocessRuns:
    """Full in-process runs of this checkout's build, made when a figure first needs one.

    A bound missed in one run is measured once more before it counts as missed: a burst of
    load from a neighbour on a shared machine can lift one run's best rounds (a 0.13 WSGI
    figure read 0.151 once on 2026-12-05). The figure kept is the lower of the two runs'.
    """

    ATTEMPTS = 2

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp_path_factory = tmp_path_factory
        self._runs: list[dict[str, dict[str, Any]]] = []

    def _run(self, index: int) -> dict[str, dict[str, Any]]:
        while len(self._runs) <= index:
            result = _run(self._tmp_path_factory.mktemp("inprocess"), "--only", "inprocess", timeout=280)
            self._runs.append({ratio["name"]: ratio for ratio in result["inprocess"]["ratios"]})
        return self._runs[index]

    def best(self, name: str, bound: float) -> tuple[float, list[dict[str, Any]]]:
        """The lowest best-of-rounds ratio ``name`` reached, measuring again while over ``bound``."""
        seen: list[dict[str, Any]] = []
        for attempt in range(self.ATTEMPTS):
            ratio = self._run(attempt)[name]
            seen.append(ratio)
            if ratio["best"] is not None and ratio["best"] <= bound:
                break
        bests = [ratio["best"] for ratio in seen if ratio["best"] is not None]
        return (min(bests) if bests else float("inf")), seen


@pytest.fixture(scope="module")
def inprocess_runs(tmp_path_factory: pytest.TempPathFactory) -> InprocessRuns:
    """The in-process runs shared by the targets below."""
    return InprocessRuns(tmp_path_factory)


def _this_build(accelerated: bool) -> None:
    import connmw  # noqa: PLC0415 (the build of this checkout is the one measured)

    if connmw.accelerated != accelerated:
        pytest.skip(f"a target of the {'accelerated' if accelerated else 'pure'} build")



@pytest.mark.parametrize("interface", ["asgi", "wsgi", "granian", "asgi-inprocess", "wsgi-inprocess"])
def test_the_hotpath_child_serves_wrapped_and_bare(interface: str) -> None:
    # What `--only hotpath` counts under callgrind: each run must serve its requests.
    for wrapper in ("bare", "connmw", "peer") if interface.endswith("-inprocess") else ("bare", "connmw"):
        done = subprocess.run(
            [sys.executable, "-m", "tests.benchmarks.hotpath_child", interface, wrapper, "3"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (done.returncode, done.stderr) == (0, "")

@pytest.mark.benchmark
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("name", "accelerated", "guard"), [row[:3] for row in INPROCESS_TARGETS])
def test_inprocess_cost_stays_where_measured(
    inprocess_runs: InprocessRuns, name: str, accelerated: bool, guard: float
) -> None:
    _this_build(accelerated)
    best, runs = inprocess_runs.best(name, guard)
    assert best <= guard, (name, runs)


@pytest.mark.benchmark
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("name", "accelerated", "target"),
    [
        pytest.param(
            name,
            accelerated,
            target,
            marks=[] if missed is None else [pytest.mark.xfail(strict=True, reason=missed)],
            id=f"{name}-{'accelerated' if accelerated else 'pure'}",
        )
        for name, accelerated, _, target, missed in INPROCESS_TARGETS
    ],
)
def test_inprocess_targets(
    inprocess_runs: InprocessRuns, name: str, accelerated: bool, target: float
) -> None:
    _this_build(accelerated)
    best, runs = inprocess_runs.best(name, target)
    assert best <= target, (name, runs)


@pytest.mark.benchmark
@pytest.mark.timeout(600)
def test_load_runs_clean(tmp_path: Path) -> None:
    """wrk against every server: no errors, and each server says what its wrapper stands for.

    No req/s target is asserted here: on a shared machine a round moves by more than the
    targets' margin (docs/benchmarks.md, "Under load and the targets"); the instruction
    counts below judge them.
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


@pytest.fixture(scope="module")
def instruction_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    """One callgrind run of this checkout's build in uvicorn: rows by (application, candidate)."""
    if shutil.which("valgrind") is None:
        pytest.skip("needs valgrind (a Debian package)")
    result = _run(tmp_path_factory.mktemp("instructions"), "--only", "instructions", timeout=580)
    rows = result["instructions"]["rows"]
    assert [row["error"] for row in rows if row["error"]] == []
    return {(row["application"], row["candidate"]): row for row in rows}


@pytest.mark.benchmark
@pytest.mark.timeout(600)
@pytest.mark.parametrize("application", ["asgi_plain", "starlette"])
def test_instruction_counts(
    instruction_rows: dict[tuple[str, str], dict[str, Any]], application: str
) -> None:
    """connmw's instructions per request in uvicorn, against the keep-alive field's floor.

    Accelerated build: connmw adds at most 500 more than a middleware that only appends
    ``Connection: keep-alive`` (measured: 800 fewer), and without that field meets the load
    targets (0.93 plain, 0.96 Starlette). Pure Python: at most 60 % more than that floor
    (measured: 50 %); its target is the next test. Either build: with a metrics backend on,
    a plain request costs the same (within the count's noise, 1 000 instructions).
    """
    import connmw  # noqa: PLC0415 (the build of this checkout is the one measured)

    by = instruction_rows
    floor = by[application, "keep-alive field only"]["added"]
    connmw_row = by[application, "connmw"]
    quiet = by[application, "connmw, explicit_keep_alive=0"]
    assert connmw_row["connection"] == "keep-alive" and quiet["connection"] is None
    assert quiet["added"] < connmw_row["added"]
    for backend in ("prometheus", "otel"):  # a plain request never reaches the metrics backend
        metered = by[application, f"connmw, metrics={backend}"]
        assert metered["connection"] == "keep-alive"
        assert abs(metered["instructions"] - connmw_row["instructions"]) <= 1000, (metered, connmw_row)
    if connmw.accelerated:
        assert connmw_row["added"] <= floor + 500, (application, connmw_row["added"], floor)
        assert quiet["ratio"] >= quiet["target"], (application, quiet["ratio"], quiet["target"])
    else:
        assert connmw_row["added"] <= 1.6 * floor, (application, connmw_row["added"], floor)


@pytest.mark.benchmark
@pytest.mark.timeout(600)
@pytest.mark.xfail(
    strict=True,
    reason="measured: the keep-alive floor + 8,200 (the request scan and the response check "
    "in bytecode: 3,500 and 2,300 instructions in-process, docs/benchmarks.md)",
)
@pytest.mark.parametrize("application", ["asgi_plain", "starlette"])
def test_pure_instructions_target(
    instruction_rows: dict[tuple[str, str], dict[str, Any]], application: str
) -> None:
    """Pure Python: connmw at most 4,000 instructions over the keep-alive floor."""
    _this_build(accelerated=False)
    floor = instruction_rows[application, "keep-alive field only"]["added"]
    assert instruction_rows[application, "connmw"]["added"] <= floor + 4000
