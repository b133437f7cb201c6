"""The devicegw service: the device API (refresh, info, find, sections, names) via upstream."""
