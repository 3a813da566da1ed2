"""Tests of the ``connmw`` command (:mod:`connmw.tool`): probe, check, demo and their clients."""
