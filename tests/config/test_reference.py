"""docs/configuration.md is generated from the key registry and the settings model, and the
committed file is what the generator writes now; every setting has a key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shared.config.keys import BY_FIELD, ENVIRONMENT_ONLY, KEYS
from shared.config.reference import render
from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "configuration.md"


def test_the_committed_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "run `make config-docs`"


def test_the_command_writes_the_reference(tmp_path: Path) -> None:
    output = tmp_path / "configuration.md"
    done = subprocess.run(
        [sys.executable, "-m", "shared.config.reference", "-o", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert output.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")


def test_every_key_and_setting_is_in_the_table() -> None:
    text = render()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(KEYS) + len(ENVIRONMENT_ONLY)
    for key in KEYS:
        [row] = [line for line in rows if line.startswith(f"| `{key.name}` |")]
        assert f"`{key.env_var}`" in row
        assert ("| live" in row) == key.live
    unkeyed = set(Settings.model_fields) - set(BY_FIELD) - set(ENVIRONMENT_ONLY)
    assert unkeyed == set(), f"settings without a config key: {sorted(unkeyed)}"


def test_a_row_says_what_it_knows() -> None:
    rows = {line.split("|")[1].strip(): line for line in render().splitlines() if "| `" in line}
    assert "integer (≥ 0) (*no limit*) | live |" in rows["`proxy.device-limit`"]
    assert "(`8000`) | restart of the gateway |" in rows["`proxy.port.http`"]
    assert "bootstrap file; secret" in rows["`proxy.db.connection`"]
    assert "`SNAPPROXY_DATA_DIR`" in rows
