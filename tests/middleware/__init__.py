"""Tests of the middleware: the rules, configuration, lifecycle, both adapters, and what
real servers put on the wire with and without them."""
