"""A coverage-guided fuzz target (atheris / libFuzzer) for the rules core.

Not a pytest module (pytest collects ``test_*.py`` only); ``test_hardening_properties``
runs :func:`one_input` on random bytes so the target itself keeps working.

Each input is decoded by ``atheris.FuzzedDataProvider`` into a policy (one of
:data:`POLICIES`), an HTTP version, a method, a status, a request header list and a
response header list, and the rules are run on them as both adapters do. Besides "never
raises", every call checks what the middlewares promise: no hop-by-hop or nominated
field in a response except connmw's single Connection field (and Keep-Alive beside
``keep-alive``, Upgrade on a legitimate 101), protected fields kept in order, stripped
requests idempotent, handshakes judged with an RFC 6455 status.

Run it (atheris 3 wheels exist for CPython 3.11 on x86-64 Linux: ``pip install atheris``)::

    python tests/fuzz_rules.py -atheris_runs=500000           # a fixed number of inputs
    python tests/fuzz_rules.py -max_total_time=300 fuzz-corpus/  # 5 minutes, corpus kept
    python tests/fuzz_rules.py crash-<sha1>                      # replay one finding

Any other libFuzzer flag works too (``-jobs=4``, ``-dict=...``). A finding is written to
``crash-<sha1>`` in the current directory; replaying it prints the failed check.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``connmw`` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

try:
    import atheris
except ImportError:  # pragma: no cover - only the script needs it
    atheris = None

if atheris is not None and __name__ == "__main__":
    with atheris.instrument_imports(include=["connmw"]):
        from connmw import rules
else:
    from connmw import rules

Header = tuple[bytes, bytes]

POLICIES = [
    rules.Policy(),
    rules.Policy(explicit_keep_alive=False, keep_alive_timeout=5),
    rules.Policy(http10_keep_alive=True, max_connection_tokens=2),
    rules.Policy(
        strip_headers=["server"],
        protected_headers=["x-tenant", "x-acme-*"],
        allowed_origins=["https://*.example.com", "null"],
    ),
]
VERSIONS = ["1.0", "1.1", "2", "3", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "0.9", ""]
METHODS = ["GET", "POST", "HEAD", "get", "CONNECT"]
STATUSES = [101, 200, 204, 304, 400, 500]
NAMES = [
    b"connection", b"Connection", b"upgrade", b"keep-alive", b"te", b"transfer-encoding",
    b"proxy-connection", b"trailers", b"trailer", b"host", b"content-length", b"authorization",
    b"x-forwarded-for", b"sec-websocket-key", b"sec-websocket-version", b"origin", b"x-hop",
    b"server", b"x-tenant", b"x-acme-id",
]  # fmt: skip
_CONNMW_CONNECTION = (b"close", b"keep-alive", b"upgrade")


def _headers(data: Any, count: int) -> list[Header]:
    """``count`` headers: a pooled name (or raw bytes), and raw bytes as the value."""
    headers: list[Header] = []
    for _ in range(count):
        if data.ConsumeBool():
            name = NAMES[data.ConsumeIntInRange(0, len(NAMES) - 1)]
        else:
            name = data.ConsumeBytes(data.ConsumeIntInRange(0, 12))
        headers.append((name, data.ConsumeBytes(data.ConsumeIntInRange(0, 48))))
    return headers


def check(
    policy: rules.Policy,
    *,
    version: str,
    method: str,
    status: int,
    request: list[Header],
    response: list[Header],
    requests_left: int | None,
) -> None:
    """Run the rules as the adapters do; raise AssertionError when a promise breaks."""
    lower_request = [(name.lower(), value) for name, value in request]
    facts = policy.read_request(version, lower_request)
    again = policy.request_facts(
        version,
        b", ".join(v for n, v in lower_request if n == b"connection") or None,
        b", ".join(v for n, v in lower_request if n == b"upgrade") or None,
    )
    assert (facts.persistent, facts.tokens, facts.upgrade) == (again.persistent, again.tokens, again.upgrade)

    stripped = list(policy.strip_request(lower_request, facts))
    assert list(policy.strip_request(stripped, facts)) == stripped
    assert [h for h in lower_request if policy.is_protected(h[0])] == [
        h for h in stripped if policy.is_protected(h[0])
    ]

    out, close, _removed = policy.finish_response(facts, status, response, requests_left=requests_left)
    out = list(out)
    app_connection = [v for n, v in response if n.lower() == b"connection"]
    nominated = policy.tokens(app_connection).nominated if app_connection else frozenset()
    connection = [v for n, v in out if n.lower() == b"connection"]
    legit_101 = status == 101 and facts.upgrade_requested and not facts.multiplexed
    assert len(connection) <= 1, out
    assert connection in ([], [b"close"], [b"keep-alive"], [b"upgrade"]), out
    assert (connection == [b"close"]) is close, out
    for name, _ in out:
        lower = name.lower()
        kind = policy.kind_of(name)
        if lower == b"keep-alive":
            assert connection == [b"keep-alive"], out
        elif lower == b"upgrade":
            assert legit_101, out
        elif lower != b"connection":
            assert kind == rules.ORDINARY and lower not in nominated, out
    # Protected names survive, but a 1xx, 204 or 304's Content-Length (RFC 9110 §8.6).
    lengthless = {b"content-length"} if status < 200 or status in (204, 304) else set()
    assert [h for h in response if policy.is_protected(h[0].lower()) and h[0].lower() not in lengthless] == [
        h for h in out if policy.is_protected(h[0].lower())
    ]

    kept, _ = policy.clean_accept_headers(response)
    assert not [n for n, _ in kept if policy.kind_of(n)], kept
    forwarded = rules.forwardable_headers(response, policy=policy, response=True)
    assert not [n for n, _ in forwarded if policy.kind_of(n)], forwarded

    verdict = policy.judge_websocket(method, version, lower_request)
    assert verdict.status in (101, 200, 400, 403, 426), verdict
    rules.check_switching_protocols(facts, response, request[0][1] if request else None)
    for _, value in request:
        policy.origins.allows(value)
        rules.parse_connection([value], max_tokens=3)


def one_input(data_bytes: bytes) -> None:
    """The libFuzzer entry point: one input, decoded and checked."""
    if atheris is not None:
        data: Any = atheris.FuzzedDataProvider(data_bytes)
    else:
        data = _Provider(data_bytes)
    policy = POLICIES[data.ConsumeIntInRange(0, len(POLICIES) - 1)]
    version = VERSIONS[data.ConsumeIntInRange(0, len(VERSIONS) - 1)]
    method = METHODS[data.ConsumeIntInRange(0, len(METHODS) - 1)]
    status = STATUSES[data.ConsumeIntInRange(0, len(STATUSES) - 1)]
    left = data.ConsumeIntInRange(-1, 20)
    request = _headers(data, data.ConsumeIntInRange(0, 8))
    response = _headers(data, data.ConsumeIntInRange(0, 8))
    check(
        policy,
        version=version,
        method=method,
        status=status,
        request=request,
        response=response,
        requests_left=None if left < 0 else left,
    )


class _Provider:
    """The few ``FuzzedDataProvider`` methods used above, for running without atheris."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def _take(self, count: int) -> bytes:
        part, self._data = self._data[:count], self._data[count:]
        return part

    def ConsumeBool(self) -> bool:  # noqa: N802 (atheris' spelling)
        part = self._take(1)
        return bool(part) and part[0] & 1 == 1

    def ConsumeIntInRange(self, low: int, high: int) -> int:  # noqa: N802 (atheris' spelling)
        raw = int.from_bytes(self._take(2) or b"\0", "little")
        return low + raw % (high - low + 1)

    def ConsumeBytes(self, count: int) -> bytes:  # noqa: N802 (atheris' spelling)
        return self._take(count)


def main(argv: list[str], setup: Callable[..., Any] | None = None) -> None:
    """Start libFuzzer with ``argv`` (its usual flags and corpus directories)."""
    if atheris is None:
        raise SystemExit("atheris is not installed: pip install atheris (CPython 3.11 wheels exist)")
    (setup or atheris.Setup)(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
