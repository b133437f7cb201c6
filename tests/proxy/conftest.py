"""The device API tests use the shared fixtures of ``tests/support/fixtures.py``: the
simulator as ``upstream``/``sim`` and the proxy as ``embedded``, ``split`` and ``any_proxy``."""
