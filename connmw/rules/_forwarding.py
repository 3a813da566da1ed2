"""Headers an application that proxies may forward: :func:`forwardable_headers`.

RFC 9110 §7.6.1 (hop-by-hop and nominated fields are not forwarded), §10.1.4 and RFC 9113
§8.2.2 (TE: only ``trailers`` crosses a hop, and only in a request).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, overload

from ._headers import EMPTY_NAMES, Header
from ._policy import Policy

_DEFAULT_POLICY: Policy | None = None


@overload
def forwardable_headers(
    headers: Iterable[tuple[bytes, bytes]], *, policy: Policy | None = None, response: bool = False
) -> list[tuple[bytes, bytes]]: ...


@overload
def forwardable_headers(
    headers: Iterable[tuple[str, str]], *, policy: Policy | None = None, response: bool = False
) -> list[tuple[str, str]]: ...


def forwardable_headers(
    headers: Iterable[tuple[Any, Any]], *, policy: Policy | None = None, response: bool = False
) -> list[tuple[Any, Any]]:
    """Headers safe to forward to another hop, for applications that proxy.

    Removes every hop-by-hop header and every header the Connection field nominates
    (protected names excepted, RFC 9110 §7.6.1). ``response=False`` (the default) is for
    a request on its way upstream: a single ``TE: trailers`` survives if any TE element
    was ``trailers`` (RFC 9113 §8.2.2). ``response=True`` is for an upstream's response
    on its way back: no TE survives (TE is a request field, RFC 9110 §10.1.4, and HTTP/2
    forbids it in responses). Use it on an upstream response before returning it
    (copying an upstream's ``Transfer-Encoding: chunked`` makes the server chunk the body
    twice) and on a client request before sending it upstream.

    ``headers`` are ``(name, value)`` pairs, all ``bytes`` (ASGI) or all ``str`` holding
    latin-1 text (WSGI, ``http.client``, ``requests``); the answer has the same type, in
    the same order, names as given. Mixed types raise :class:`TypeError`, and ``str``
    that is not latin-1 :class:`ValueError`, each naming the header.
    """
    global _DEFAULT_POLICY
    if policy is None:
        if _DEFAULT_POLICY is None:
            _DEFAULT_POLICY = Policy()
        policy = _DEFAULT_POLICY
    pairs, text = _bytes_pairs(headers)
    values = policy._connection_values(pairs)
    nominated = policy.tokens(values).nominated if values else EMPTY_NAMES
    kept = policy._without_hop_by_hop(pairs, nominated, keep_te=not response)
    if text:
        return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in kept]
    return kept


def _bytes_pairs(headers: Iterable[tuple[Any, Any]]) -> tuple[list[Header], bool]:
    """``headers`` as bytes pairs, and whether they came as ``str`` (latin-1) pairs."""
    given = list(headers)
    text = bool(given) and isinstance(given[0][0], str)
    pairs: list[Header] = []
    for name, value in given:
        if isinstance(name, bytes) and isinstance(value, bytes) and not text:
            pairs.append((name, value))
        elif isinstance(name, str) and isinstance(value, str) and text:
            try:
                pairs.append((name.encode("latin-1"), value.encode("latin-1")))
            except UnicodeEncodeError:
                raise ValueError(f"forwardable_headers: {name!r} is not latin-1 text (PEP 3333)") from None
        else:
            first = "str" if text else "bytes"
            raise TypeError(
                "forwardable_headers: header pairs must be all bytes or all str, got "
                f"({type(name).__name__}, {type(value).__name__}) for {name!r} after {first} pairs"
            )
    return pairs, text
