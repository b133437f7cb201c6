"""The wheel holds every file the code ships: each tracked file of the packages (modules,
templates, static files, migrations, the trusted root key) and the documentation /docs/
serves. The image installs the wheel, not the checkout: a file left out of
``[tool.setuptools.package-data]`` once crashed the image's devicegw at import
(``static/*.js``) while every test on the checkout passed.

The wheel is built offline from a copy of the tracked files, with the venv's setuptools
(``pip wheel --no-build-isolation --no-index``).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("shared/", "services/", "tools/")
DOCS = ("docs/",)


@functools.cache
def tracked_files() -> tuple[str, ...]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return tuple(name for name in listed.split("\0") if name and (REPO / name).is_file())


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    for name in tracked_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    built = subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
            "--no-index", "-q", "-w", str(base / "dist"), str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (base / "dist").glob("snapproxy-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_every_tracked_file_of_the_packages_is_in_the_wheel(wheel_names: set[str]) -> None:
    shipped = [name for name in tracked_files() if name.startswith(PACKAGES)]
    assert any(name.endswith(".js") for name in shipped), "the dashboard's script is tracked"
    missing = sorted(name for name in shipped if name not in wheel_names)
    assert missing == [], f"left out of the wheel (pyproject package-data): {missing}"


def test_the_documentation_is_in_the_wheel(wheel_names: set[str]) -> None:
    docs = [name for name in tracked_files() if name.startswith(DOCS)]
    data = {name.split("/data/share/doc/snapproxy/", 1)[1] for name in wheel_names if
            "/data/share/doc/snapproxy/" in name}  # fmt: skip
    missing = sorted(name for name in docs if name.removeprefix("docs/") not in data)
    assert missing == [], f"documentation left out of the wheel (pyproject data-files): {missing}"
