"""The ``connmw`` command: a diagnostic tool, not part of the middleware.

It runs on a developer's machine or in CI, never on a request's path: it asks a
server how it handles connections and says what it found.

* ``connmw probe URL`` asks a running server over raw sockets;
* ``connmw check MODULE:APP`` serves an application on a real server on loopback and
  probes it;
* ``connmw demo`` shows small applications bare and inside the middlewares, side by side.

Public API: :mod:`connmw.tool.cli` (``main``, the command) and :mod:`connmw.tool.probe`
(``probe``, ``Report``, ``Case`` … for scripts and tests). The underscore modules are
its private parts: the raw HTTP/1.x and HTTP/2 clients, the cases and their findings,
the development servers it starts and the text rendering.

The dependency goes one way: the tool imports the middleware (:mod:`connmw.rules` for
the HTTP facts, :mod:`connmw.servers` for the servers it can start), and no middleware
module imports the tool (``tests/test_layout.py``). Importing :mod:`connmw` or an
adapter never loads this package.
"""
