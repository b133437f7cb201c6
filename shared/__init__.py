"""snapproxy shared package: settings, database, cache, health, logging, codec, upstream."""

__version__ = "0.1.0"
