"""How the tests share code: what more than one folder uses lives in ``tests/support``; a
test module never imports from another test module, nor from another folder's helpers."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> Iterator[str]:
    """Every module of the ``tests`` package that ``path`` imports, as a dotted name."""
    package = ".".join(path.relative_to(REPO).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            candidates = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        yield from (name for name in candidates if name.split(".")[0] == "tests")


def is_test_module(dotted: str) -> bool:
    path = REPO.joinpath(*dotted.split(".")).with_suffix(".py")
    return path.name.startswith("test_") and path.exists()


def offending_imports(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        parts = path.relative_to(REPO).parts
        own = f"tests.{parts[1]}" if parts[0] == "tests" and len(parts) > 2 else "tests.support"
        for module in imported_modules(path):
            where = path.relative_to(REPO)
            if is_test_module(module):
                found.append(f"{where} imports the test module {module}")
            elif not any(
                module == ok or module.startswith(ok + ".") for ok in (own, "tests.support")
            ):
                found.append(f"{where} imports {module}, which is not in tests/support")
    return found


def test_shared_test_code_comes_from_tests_support() -> None:
    paths = sorted([*(REPO / "tests").rglob("*.py"), *(REPO / "bench").rglob("*.py")])
    assert offending_imports(paths) == []


def test_the_check_sees_what_it_forbids() -> None:
    codec = REPO / "tests" / "codec" / "test_fuzz.py"
    assert "tests.codec.support" in set(imported_modules(codec))  # its own folder's: fine
    assert offending_imports([codec]) == []
    assert is_test_module("tests.cache.test_admin")
    assert not is_test_module("tests.support.cache")
    assert not is_test_module("tests.cache.test_admin.publish")
