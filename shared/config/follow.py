"""``snap-proxy run-split`` follows the configuration for the processes it runs: a changed key
that needs a restart is applied by it (nginx rendered again and reloaded for the gateway's
keys, every service restarted in turn for the others), as the services apply live keys."""

from __future__ import annotations

import asyncio

from shared.config.bootstrap import BootstrapError, read_bootstrap
from shared.config.keys import ConfigKey, Restart
from shared.config.live import LiveSettings
from shared.config.resolve import ConfiguredSettings
from shared.db import create_engine, create_sessionmaker
from shared.split import SplitTopology, SplitTopologyError


def _names(keys: list[ConfigKey]) -> str:
    return ", ".join(key.name for key in keys)


class TopologyFollower:
    """Polled by ``run-split`` every ``config.poll-interval`` seconds; each poll returns what
    it did, one line each, for the admin."""

    def __init__(
        self, topology: SplitTopology, settings: ConfiguredSettings, *, fixed_port: int | None
    ) -> None:
        self.topology = topology
        self.fixed_port = fixed_port  # run-split --port: the option decides, not the key
        self.runner = asyncio.Runner()
        self.engine = create_engine(settings, application_name="snap-proxy-run-split")
        self.live = LiveSettings(settings, create_sessionmaker(self.engine))
        self.bootstrap = dict(self.live.layers.bootstrap)
        self.unreadable = False

    @property
    def poll_interval(self) -> float:
        return self.live.current.config_poll_interval

    def poll(self) -> list[str]:
        said: list[str] = []
        try:
            bootstrap = read_bootstrap(self.live.current.data_dir)
        except BootstrapError:
            bootstrap = self.bootstrap
        if bootstrap != self.bootstrap:
            self.bootstrap = bootstrap
            said.append(
                "the bootstrap file changed (proxy.db.connection): restart `snap-proxy "
                "run-split` to use it"
            )
        try:
            changed = self.runner.run(self.live.refresh())
        except Exception as exc:
            if not self.unreadable:
                said.append(f"cannot read the configuration ({type(exc).__name__}); retrying")
            self.unreadable = True
            return said
        self.unreadable = False
        gateway = [key for key in changed if key.restart is Restart.GATEWAY]
        services = [key for key in changed if key.restart is Restart.SERVICES]
        if gateway:
            said.append(self._reload_gateway(gateway))
        if services:
            self.topology.restart_services()
            said.append(f"{_names(services)} changed: every service restarted")
        return said

    def _reload_gateway(self, keys: list[ConfigKey]) -> str:
        settings = self.live.current
        try:
            self.topology.reload_gateway(
                host=settings.host,
                port=self.fixed_port or settings.port,
                trust_forwarded_proto=settings.trust_forwarded_proto,
                settings=settings,
            )
        except SplitTopologyError as exc:
            return f"{_names(keys)} changed, but the gateway could not take it: {exc}"
        note = f" (--port {self.fixed_port} decides the port)" if self.fixed_port else ""
        return (
            f"{_names(keys)} changed: nginx re-rendered and reloaded, gateway "
            f"{self.topology.gateway_url}/{note}"
        )

    def close(self) -> None:
        self.runner.run(self.engine.dispose())
        self.runner.close()
