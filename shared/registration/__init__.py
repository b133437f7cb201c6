"""Registering a proxy with its upstream (``snap-proxy register``): the protocol both sides
speak, and the registering side's client. See docs/registration.md."""
