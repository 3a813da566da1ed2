"""``connmw probe``: ask a live server the questions connmw answers, over raw sockets.

Standard library only (socket, ssl): connmw keeps zero runtime dependencies, and an
HTTP library would hide what is being probed (repeated fields, framing, whether the
socket really closed).

Cases, in order (ids are stable):

==========================  ===================================================
``post-http11``             POST, HTTP/1.1 (``curl -X POST URL``)
``post-http10``             POST, HTTP/1.0 (``curl --http1.0``)
``post-http11-close``       POST, HTTP/1.1, ``Connection: close``
``post-http10-keep-alive``  POST, HTTP/1.0, ``Connection: keep-alive``
``head-http11``             HEAD, HTTP/1.1 (no body may follow)
``get-nominated``           GET, ``Connection: x-connmw-probe`` + ``X-Connmw-Probe: 1``
``ws-valid``                a valid WebSocket opening handshake (no Origin)
``ws-bad-version``          the same with ``Sec-WebSocket-Version: 8``
``ws-foreign-origin``       the same with ``Origin: http://evil.example``
``h2-get``                  GET over HTTP/2 (``--http2`` only; h2c prior knowledge
                            for http://, ALPN h2 for https://)
==========================  ===================================================

POSTs carry ``Content-Length: 0``. For each HTTP/1.x case the probe reads the response
as the wire framed it, then finds out what the socket does: when the exchange should
end the connection it waits for EOF; otherwise it sends a second request on the same
socket (with ``Connection: close``) and sees whether it is answered. It compares that
with what the response said (RFC 9112 §9.3, §9.6). See :mod:`connmw.tool._findings` for every
finding and its severity.

Findings (``code``: severity, RFC section). Severities are argued in :mod:`connmw.tool._findings`:
errors break a MUST or fail a valid request; warnings are risky, against a SHOULD, or a
MUST without practical effect; info notes are never faults.

=================================  =======  ==========================================
``server-error``                   error    5xx to a valid request (RFC 9110 §15.6)
``hop-by-hop-leak``                error    hop-by-hop or Connection-nominated field
                                            sent (RFC 9110 §7.6.1; RFC 9113 §8.2.2)
``connection-contradictory``       error    close and keep-alive together (RFC 9112 §9.6)
``chunked-to-http10``              error    Transfer-Encoding to HTTP/1.0 (RFC 9112 §6.1)
``chunked-twice``                  error    chunked applied twice (RFC 9112 §6.1)
``length-with-transfer-encoding``  error    both framings (RFC 9112 §6.2)
``bad-content-length``             error    invalid or conflicting (RFC 9110 §8.6)
``truncated-body``                 error    EOF inside the framed body (RFC 9112 §8)
``bytes-after-response``           error    bytes past the framing, e.g. a body after
                                            HEAD (RFC 9112 §6.3)
``bad-second-response``            error    second answer on the connection not HTTP
``keep-alive-without-length``      error    keep-alive on a close-delimited body (§9.3)
``keep-alive-after-close``         error    keep-alive answered to close (RFC 9112 §9.6)
``close-ignored``                  error    close said, connection kept (RFC 9112 §9.6)
``closed-unannounced``             error    persistence promised, then closed (§9.6)
``keep-alive-unanswered``          error    kept open, second request unanswered (§9.3)
``ws-bad-accept``                  error    wrong Sec-WebSocket-Accept (RFC 6455 §4.2.2)
``ws-bad-101``                     error    101 without Upgrade/Connection (§4.2.2)
``ws-bad-version-accepted``        error    101 to version 8 (RFC 6455 §4.2.2)
``h2-connection-field``            error    connection-specific field (RFC 9113 §8.2.2)
``h2-uppercase-field``             error    upper-case field name (RFC 9113 §8.2.1)
``h2-101``                         error    :status 101 over HTTP/2 (RFC 9113 §8.6)
``connection-repeated``            warning  several Connection lines (RFC 9110 §5.3)
``connection-nominates-protected`` warning  Connection names an end-to-end field (§7.6.1)
``close-not-echoed``               warning  no close in the answer to close (§9.6 SHOULD)
``unsolicited-keep-alive``         warning  keep-alive to an HTTP/1.0 client that did not
                                            ask (RFC 9112 §9.3)
``left-open``                      warning  non-persistent exchange, socket left open
``ws-version-not-advertised``      warning  version 8 refused without
                                            ``Sec-WebSocket-Version: 13`` (§4.2.2)
``ws-no-origin-check``             warning  foreign Origin accepted (RFC 6455 §10.2)
``h2-stream-reset``                warning  RST_STREAM with an error (RFC 9113 §8.1)
``not-persistent``                 info     closes after every HTTP/1.1 response
``ws-not-offered``                 info     no WebSocket endpoint at the path
``h2-not-offered``                 info     no HTTP/2 (no h2c / ALPN chose http/1.1)
``body-not-read``                  info     body over 1 MiB, persistence not checked
=================================  =======  ==========================================

Exit status: 0 no error finding (warnings too with ``--strict``); 1 findings; 2 the
server could not be probed (unreachable, TLS failure, not HTTP, no answer in time),
with a one-line reason.

JSON document (``--json``), schema ``connmw-probe/1``; fields are never removed or
renamed within a schema version, new ones may be added::

    {
      "schema": "connmw-probe/1",
      "connmw_version": "X.Y.Z",         # connmw.__version__
      "url": "http://127.0.0.1:8000/",
      "target": {"scheme": "http", "host": "127.0.0.1", "port": 8000,
                 "path": "/", "ws_path": "/"},
      "exit_code": 0 | 1 | 2,
      "outcome": "clean" | "findings" | "unprobeable",
      "reason": null | "one line: why the server could not be probed",
      "summary": {"error": 0, "warning": 0, "info": 0},
      "cases": [
        {
          "id": "post-http11",              # one of the ids above
          "title": "POST HTTP/1.1",
          "request": {"method": "POST", "http_version": "1.1",
                      "headers": [["Host", "127.0.0.1:8000"], ...]},
          "verdict": "ok" | "warning" | "error" | "skipped",
          "status": 200 | null,             # null: no response
          "response_version": "1.1" | "1.0" | "2" | null,
          "connection": ["keep-alive"],     # each Connection line received, in order
          "announced": "keep-alive" | "close" | null,   # RFC 9112 §9.3 reading
          "announced_by": "header" | "default" | "framing" | null,
          "socket": "kept" | "closed" | "open" | "unknown" | "n/a",
          "framing": "content-length" | "chunked" | "close-delimited" | "none" | null,
          "leaked": ["x-hop"],              # lower-case hop-by-hop names received
          "findings": [{"severity": "error" | "warning" | "info",
                        "code": "hop-by-hop-leak", "message": "...",
                        "rfc": "RFC 9110 §7.6.1"}],
          "error": null | "why this case could not complete",
          "elapsed_ms": 1.7
        }
      ]
    }

``socket``: ``kept`` a second request on the same connection was answered; ``closed``
the server closed it (EOF or reset); ``open`` neither within the wait; ``unknown``
not determined (bytes after the response, body too large); ``n/a`` not checked
(WebSocket, HTTP/2, failed case). Field values are decoded as latin-1.

``connmw check --json`` wraps this document (schema ``connmw-check/1``)::

    {"schema": "connmw-check/1", "app": "module:app", "interface": "asgi" | "wsgi" | null,
     "server": "uvicorn" | ... | null, "exit_code": 0 | 1 | 2, "reason": null | "...",
     "probe": { the connmw-probe/1 document } | null}

Both as JSON Schema: :data:`PROBE_SCHEMA` and :data:`CHECK_SCHEMA`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..rules import parse_connection
from . import _findings
from ._cases import CASES, Case, CaseResult, Settings, run_h2, run_http, run_websocket
from ._findings import ERROR, INFO, WARNING, Finding
from ._http1_client import Target, parse_target, quote_target
from ._schema import CHECK_SCHEMA, PROBE_SCHEMA

__all__ = [
    "CASES",
    "CHECK_SCHEMA",
    "PROBE_SCHEMA",
    "Case",
    "CaseResult",
    "Finding",
    "Report",
    "probe",
]

SCHEMA = "connmw-probe/1"


@dataclass
class Report:
    """Every case's result, or the reason the server could not be probed."""

    target: Target
    ws_path: str
    cases: list[CaseResult] = field(default_factory=list)
    reason: str | None = None

    def count(self, severity: str) -> int:
        """How many findings of this severity (failed cases count as errors)."""
        found = sum(1 for case in self.cases for f in case.findings if f.severity == severity)
        if severity == ERROR:
            found += sum(1 for case in self.cases if case.error)
        return found

    def exit_code(self, *, strict: bool = False) -> int:
        """0 clean, 1 findings (errors; warnings too if ``strict``), 2 unprobeable."""
        if self.reason is not None:
            return 2
        if self.count(ERROR) or (strict and self.count(WARNING)):
            return 1
        return 0

    def to_json(self, *, strict: bool = False) -> dict[str, Any]:
        """The ``connmw-probe/1`` document."""
        code = self.exit_code(strict=strict)
        return {
            "schema": SCHEMA,
            "connmw_version": __version__,
            "url": self.target.url,
            "target": {
                "scheme": self.target.scheme,
                "host": self.target.host,
                "port": self.target.port,
                "path": self.target.path,
                "ws_path": self.ws_path,
            },
            "exit_code": code,
            "outcome": ("clean", "findings", "unprobeable")[code],
            "reason": self.reason,
            "summary": {severity: self.count(severity) for severity in (ERROR, WARNING, INFO)},
            "cases": [case.to_json() for case in self.cases],
        }


Progress = Callable[[int, int, Case], None]


def probe(
    url: str,
    *,
    http2: bool = False,
    insecure: bool = False,
    timeout: float = 5.0,
    ws_path: str | None = None,
    on_case: Progress | None = None,
) -> Report:
    """Run the case matrix against ``url`` and return the :class:`Report`.

    Args:
        url: an ``http://`` or ``https://`` URL; its path is what the HTTP cases request.
        http2: also run the HTTP/2 case (h2c prior knowledge for http://, ALPN for https://).
        insecure: do not verify the server's TLS certificate.
        timeout: seconds to wait for each exchange.
        ws_path: the path of the WebSocket cases (default: the URL's path).
        on_case: called before each case with its index, the number of cases and the case.

    Returns:
        Every case's result and findings. If the first case cannot reach an HTTP server,
        the report carries ``reason`` and no more cases are tried.

    Raises:
        ValueError: for a URL that is not http:// or https://.
    """
    target = parse_target(url)
    ws_target = quote_target(ws_path if ws_path is not None else target.path)
    if not ws_target.startswith("/"):
        ws_target = "/" + ws_target
    settings = Settings(target, ws_target, timeout, insecure, min(timeout, 1.5))
    report = Report(target, settings.ws_path)
    cases = [case for case in CASES if http2 or case.kind != "h2"]
    offered: bool | None = None
    nominated: frozenset[bytes] = frozenset()
    for index, case in enumerate(cases):
        if on_case is not None:
            on_case(index, len(cases), case)
        started = time.monotonic()
        if case.kind == "http":
            result = run_http(settings, case)
        elif case.kind == "websocket":
            result = run_websocket(settings, case, offered)
            if case.id == "ws-valid":
                offered = result.status == 101
        else:
            result = run_h2(settings, case, nominated)
        result.elapsed_ms = (time.monotonic() - started) * 1000
        if index == 0 and result.error is not None and result.status is None:
            report.reason = f"could not probe {target.url}: {result.error}"
            return report
        if case.kind == "http" and result.status is not None:
            nominated |= _findings.nominated_fields(
                parse_connection(c.encode("latin-1") for c in result.connection)
            )
        report.cases.append(result)
    return report
