"""Tests of the middleware: configuration, lifecycle, both adapters, and what real servers put
on the wire with and without them (the pure rules have their own folder, tests/rules/)."""
