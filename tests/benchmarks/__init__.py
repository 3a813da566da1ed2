"""connmw's benchmark suite: ``python -m tests.benchmarks.run`` (docs/benchmarks.md).

Nothing here is collected or imported by the default ``pytest`` run: no module name
matches ``test_*.py``, and ``tests/test_benchmarks_smoke.py`` runs the suite in a
subprocess.
"""
