"""One Alembic environment: the migrations build exactly the models, up and down."""

from __future__ import annotations

from alembic import command

from shared import migrate
from shared.settings import Settings
from tests.support.infra import fresh_database


def test_upgrade_downgrade_round_trip_and_models_match():
    with fresh_database() as url:
        settings = Settings(database_url=url)
        migrate.upgrade(settings)
        command.check(migrate.alembic_config(settings))  # models == migrations
        migrate.downgrade(settings, "base")
        migrate.upgrade(settings)


def test_sqlite_migrates(tmp_path):
    settings = Settings(data_dir=tmp_path)
    migrate.upgrade(settings)
    command.check(migrate.alembic_config(settings))
    assert (tmp_path / "snapproxy.db").exists()
