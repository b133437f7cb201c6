"""``snap-proxy config``: configuration keys, where their values come from, and how running
services follow them.

- ``keys``: the registry (one ``ConfigKey`` per setting), ``values``: parsing a value's text;
- ``bootstrap``: the node's bootstrap file (the database connection);
- ``store``: the ``config`` table; ``resolve``: default < bootstrap/table < environment;
- ``live``: ``LiveSettings``, the settings a running process follows;
- ``load``: a process's settings from every layer, before it serves;
- ``transfer``: ``--export-yaml`` and ``--import-yaml``; ``docs``: docs/configuration.md.
"""
