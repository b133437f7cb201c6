"""Each service's own PostgreSQL role: how a service finds the URL it connects with.

``snap-proxy config proxy.db.connection=URL`` (``shared.dbsetup``) makes one role per service
and keeps, next to the owner's URL in this node's bootstrap file, each role's name and
password (``db.service-roles``; the database keeps them too, in ``snapproxy.service_roles``,
which only the owner reads). A service takes the owner's host, port and database, and its own
role and password: :func:`service_layers` replaces the owner's URL (password and all) before
anything resolves settings from the layers, so a service never connects as the owner.

``SNAPPROXY_DATABASE_URL`` in a service's environment wins (containers hand each service
its own URL, docs/database.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:  # shared.config.keys imports this module
    from shared.config.resolve import Layers

CONNECTION_KEY = "proxy.db.connection"
ROLES_ENTRY = "db.service-roles"

# The role of each service: the Snap Store Proxy's names where it has the service, and the
# name of the schema the role may write (shared.db.SCHEMAS).
SERVICE_ROLES: dict[str, str] = {
    "auth": "snapauth",
    "devicegw": "snapdevicegw",
    "revisions": "snaprevs",
    "assertions": "snapassert",
    "downloads": "snapdownloads",
}

# The embedded default reads the configuration and the internal secret as this role (every
# role may read them); each service's engine is its own role's (shared.embedded).
EMBEDDED_READER = "devicegw"


def role_credentials(bootstrap: Mapping[str, Any], service: str) -> tuple[str, str] | None:
    """The (role, password) the bootstrap file keeps for ``service``, if any."""
    roles = bootstrap.get(ROLES_ENTRY)
    entry = roles.get(service) if isinstance(roles, Mapping) else None
    if not isinstance(entry, Mapping):
        return None
    role, password = entry.get("role"), entry.get("password")
    if not isinstance(role, str) or not isinstance(password, str) or not role:
        return None
    return role, password


def as_role(owner_url: str, role: str, password: str) -> str:
    """``owner_url`` with the role's name and password instead of the owner's."""
    url: URL = make_url(owner_url).set(username=role, password=password)
    return url.render_as_string(hide_password=False)


def service_layers(layers: Layers, service: str) -> Layers:
    """The layers ``service`` resolves its settings from: the database connection is its own
    role's and the owner's password is gone. Unchanged when the environment names the
    database or the bootstrap file keeps no role for ``service`` (SQLite, or a database
    set up without roles)."""
    from shared.config.resolve import Layers

    if "database_url" in layers.environment.model_fields_set:
        return layers
    owner = layers.bootstrap.get(CONNECTION_KEY)
    credentials = role_credentials(layers.bootstrap, service)
    if not isinstance(owner, str) or credentials is None:
        return layers
    bootstrap = {k: v for k, v in layers.bootstrap.items() if k != ROLES_ENTRY}
    bootstrap[CONNECTION_KEY] = as_role(owner, *credentials)
    return Layers(layers.environment, bootstrap, layers.table)
