"""Apps, balancer templates and tools of the rolling-restart tests (tests/test_rollout.py)."""
