"""What each server lets the WSGI adapter do, asked of the rules once per server.

:class:`ServerView` holds the rules' answers that depend on a server's traits alone;
:class:`Remembered` what they decided for a request that needs nothing but its facts; and
:func:`start_refusable` sends connmw's fields where a server may refuse them (PEP 3333).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, final

from ._core import Core
from .rules import Policy, RequestFacts, fields_reach_client, takes_fields
from .servers import ServerProfile
from .servers._recognise import identity

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse

    Write = Callable[[bytes], object]

REFUSING: Final[set[object]] = set()  # start_responses (by identity) that refused connmw's field


@final
class ServerView:
    """What the rules answer for one server's traits alone, asked once per server (each per
    request would be a function call in the pure build): its policy (:meth:`Policy.for_server`),
    whether connmw's fields reach the client at all (:func:`~connmw.rules.takes_fields`), whether
    connmw's close is carried out (a field or the server's hook), and whether the fields go in
    the application's headers of a response and of a 101 (:func:`~connmw.rules.fields_reach_client`).
    """

    def __init__(self, policy: Policy, server: ServerProfile) -> None:
        traits = server.traits
        self.policy = policy.for_server(
            keeps_http10=traits.keeps_http10, announce=traits.announce_wsgi, traits=traits
        )
        self.takes_fields = takes_fields(traits)
        self.acts = self.takes_fields or server.wsgi_persist is not None
        self.reach = fields_reach_client(traits, 200)
        self.reach_101 = fields_reach_client(traits, 101)


@final
class Remembered:
    """What the rules decided for a request that needs nothing but its facts published.

    Remembered by its Connection field; it stands for requests with the same protocol
    (``SERVER_PROTOCOL``) from the same server (``SERVER_SOFTWARE``).
    ``unless_draining``: the server keeps the connection exactly when connmw would, so nothing is asked of it,
    unless connmw drains (then it must close).
    """

    def __init__(
        self,
        facts: RequestFacts,
        protocol: str,
        software: str,
        unless_draining: bool,
    ) -> None:
        self.facts = facts
        self.protocol = protocol
        self.software = software
        self.unless_draining = unless_draining


def start_refusable(
    core: Core,
    server: ServerProfile,
    send: StartResponse,
    start: tuple[str, list[tuple[str, str]], OptExcInfo | None],
    added: int,
) -> tuple[Write, bool]:
    """``send`` with connmw's fields, or once more without them if the server refuses them.

    PEP 3333 forbids hop-by-hop fields from an application, and servers that check
    refuse one in ``start_response`` (wsgiref asserts, waitress raises): the response
    goes out without the field, the server keeps or closes the connection as it does
    alone, and the field is not offered there again in this process. Returns the
    server's ``write`` and whether the field was refused.
    """
    status, out, exc_info = start
    try:
        return send(status, out, exc_info), False
    except Exception as error:  # what a server raises is not ours to know
        del out[-added:]
        # PEP 3333: start_response may be called again, with exc_info, before the head is sent.
        write = send(status, out, sys.exc_info())
        REFUSING.add(identity(send))
        core.reporter.refused(server.name, error)
        return write, True
