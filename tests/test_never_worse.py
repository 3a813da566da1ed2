"""The ordering behind "never worse than the bare server" (tests/never_worse.py), on a table.

Each row is a pair of observations, connmw's and the bare server's, and the properties on
which connmw's is worse (none: at least as good). The wire test of the unknown profile
(tests/middleware/test_unknown_servers.py) applies this ordering to every known server.
"""

from __future__ import annotations

import pytest

from tests.never_worse import Observed, worse

OK = Observed(connection=("keep-alive",), reused=True)
SILENT = Observed(reused=True)  # HTTP/1.1, nothing said, the next request answered
CLOSED = Observed(connection=("close",), closed=True)
SAYS_CLOSE_KEEPS = Observed(connection=("close",), reused=True)


@pytest.mark.parametrize(
    ("wrapped", "bare", "found"),
    [
        pytest.param(OK, OK, [], id="same"),
        pytest.param(SILENT, SILENT, [], id="same-silent"),
        pytest.param(OK, SILENT, [], id="keep-alive-said-and-kept"),
        pytest.param(
            Observed(status=500, connection=("close",), closed=True),
            OK,
            ["status 500, bare 200"],
            id="a-5xx-bare-did-not-give",
        ),
        pytest.param(OK, Observed(status=500, connection=("close",), closed=True), [], id="a-5xx-cured"),
        pytest.param(
            Observed(status=500, closed=True),
            Observed(unreadable=True, closed=True),
            [],
            id="a-5xx-where-bare-could-not-be-read",
        ),
        pytest.param(Observed(unreadable=True, closed=True), OK, ["unreadable"], id="unreadable"),
        pytest.param(OK, Observed(unreadable=True, closed=True), [], id="unreadable-cured"),
        pytest.param(
            Observed(connection=("close", "close"), closed=True),
            CLOSED,
            ["Connection lines ['close', 'close'], bare ['close']"],
            id="a-second-connection-line",
        ),
        pytest.param(
            Observed(connection=("close", "close"), closed=True),
            Observed(connection=("close", "close"), closed=True),
            [],
            id="two-lines-where-bare-had-two",
        ),
        pytest.param(CLOSED, SILENT, [], id="one-close-where-bare-said-nothing"),
        pytest.param(
            Observed(connection=("close, keep-alive",), closed=True),
            Observed(connection=("keep-alive",), reused=True),
            ["close beside keep-alive"],
            id="contradiction",
        ),
        pytest.param(
            SILENT,
            CLOSED,
            ["does not say close where bare did", "keeps a connection bare closed"],
            id="the-apps-close-lost",
        ),
        pytest.param(SAYS_CLOSE_KEEPS, CLOSED, ["keeps a connection bare closed"], id="said-but-not-done"),
        pytest.param(SAYS_CLOSE_KEEPS, SAYS_CLOSE_KEEPS, [], id="said-and-kept-as-bare"),
        pytest.param(CLOSED, SAYS_CLOSE_KEEPS, [], id="said-and-done-where-bare-kept"),
        pytest.param(
            Observed(connection=("keep-alive",), closed=True),
            SILENT,
            ["announced persistent, cannot carry the next request"],
            id="keep-alive-then-closed",
        ),
        pytest.param(
            Observed(closed=True),
            SILENT,
            ["announced persistent, cannot carry the next request"],
            id="http11-silent-then-closed",
        ),
        pytest.param(
            Observed(version="HTTP/1.0", closed=True),
            Observed(version="HTTP/1.0", reused=True),
            [],
            id="http10-silent-closes-as-a-client-expects",
        ),
        pytest.param(Observed(closed=True), Observed(closed=True), [], id="silent-close-as-bare"),
        pytest.param(
            Observed(reused=False),
            OK,
            ["announced persistent, cannot carry the next request"],
            id="stray-bytes-break-the-next-response",
        ),
        pytest.param(
            Observed(leaked=frozenset({"x-hop", "upgrade"}), reused=True),
            Observed(leaked=frozenset({"x-hop"}), reused=True),
            ["leaks ['upgrade']"],
            id="a-leak-bare-did-not-have",
        ),
        pytest.param(
            Observed(leaked=frozenset({"x-hop"}), reused=True),
            Observed(leaked=frozenset({"x-hop", "upgrade"}), reused=True),
            [],
            id="fewer-leaks",
        ),
        pytest.param(
            Observed(stray=True, closed=True),
            Observed(closed=True),
            ["body bytes after a response without content"],
            id="stray-bytes",
        ),
        pytest.param(
            Observed(version="HTTP/1.0", chunked=True, closed=True),
            Observed(version="HTTP/1.0", closed=True),
            ["chunked to HTTP/1.0"],
            id="chunked-to-http10",
        ),
        pytest.param(
            Observed(version="HTTP/1.0", chunked=True, closed=True),
            Observed(version="HTTP/1.0", chunked=True, closed=True),
            [],
            id="chunked-to-http10-as-bare",
        ),
        pytest.param(Observed(chunked=True, reused=True), SILENT, [], id="chunked-to-http11"),
    ],
)
def test_worse_on_a_table(wrapped: Observed, bare: Observed, found: list[str]) -> None:
    assert worse(wrapped, bare) == found


def test_at_least_as_good_as_itself() -> None:
    for seen in (OK, SILENT, CLOSED, SAYS_CLOSE_KEEPS, Observed(unreadable=True, closed=True)):
        assert worse(seen, seen) == []


def test_a_client_reads_persistence_from_the_version_and_the_field() -> None:
    assert Observed().announced_persistent
    assert Observed(connection=("keep-alive",)).announced_persistent
    assert not Observed(connection=("keep-alive, close",)).announced_persistent
    assert not Observed(version="HTTP/1.0").announced_persistent
    assert Observed(version="HTTP/1.0", connection=("keep-alive",)).announced_persistent
