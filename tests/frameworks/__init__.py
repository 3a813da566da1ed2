"""connmw in every framework, added the framework's own way: apps, wire tests, typing examples."""
