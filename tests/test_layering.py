"""Every import points down.

    jointbuy (CLI, dev stack, demo)        the root: may import everything
    api, worker                            the two processes
    workflows, activities                  orchestration and side effects
    db                                     PostgreSQL
    messages                               what API, workflows and activities exchange
    procurement                            the pure domain
    core (settings, logging, client)       the floor: anyone may import it

Read from the source with `ast` (imports inside functions count too), so an arrow that points up
fails here rather than in a reader's head.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOOR = {"core"}

# What each part of the product may import besides itself and the floor.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "procurement": set(),
    "messages": {"procurement"},
    "db": {"procurement"},
    "workflows": {"messages", "procurement"},
    "activities": {"messages", "db", "procurement"},
    "api": {"workflows", "messages", "db", "procurement"},
    "worker": {"workflows", "activities", "messages", "db", "procurement"},
    "jointbuy": {"api", "worker", "workflows", "activities", "messages", "db", "procurement"},
}
OURS = set(ALLOWED)

# Libraries a part must not reach for: the domain and the messages are plain Python and pydantic;
# workflows reach the database and the web only through activities and the API.
FORBIDDEN_LIBRARIES: dict[str, set[str]] = {
    "procurement": {"temporalio", "asyncpg", "fastapi", "starlette", "httpx", "structlog"},
    "messages": {"temporalio", "asyncpg", "fastapi", "starlette", "httpx"},
    "workflows": {"asyncpg", "fastapi", "starlette", "httpx"},
    "activities": {"fastapi", "starlette"},
    "db": {"temporalio", "fastapi", "starlette"},
    "core": {"fastapi", "starlette", "asyncpg"},
}
WEB = {"fastapi", "starlette", "uvicorn"}


def part_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def sources() -> Iterator[Path]:
    for part in OURS:
        package = ROOT / part
        if package.is_dir():
            yield from sorted(package.rglob("*.py"))
        elif (ROOT / f"{part}.py").exists():
            yield ROOT / f"{part}.py"


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def test_every_part_is_checked() -> None:
    """Guard the table: every top-level package of ours is in it, so a new one cannot slip by."""
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests", "bench"}
    assert packages <= OURS, f"add {sorted(packages - OURS)} to ALLOWED"
    assert {part_of(p) for p in sources()} == OURS


def imports_of(part: str) -> Iterator[tuple[str, str]]:
    """(where, top-level package imported) for every import in `part`."""
    for path in sources():
        if part_of(path) == part:
            for line, module in imported_modules(path):
                yield f"{path.relative_to(ROOT)}:{line} imports {module}", module.split(".")[0]


@pytest.mark.parametrize("part", sorted(OURS))
def test_imports_point_down(part: str) -> None:
    allowed = ALLOWED[part] | FLOOR | {part}
    upward = [where for where, top in imports_of(part) if top in OURS and top not in allowed]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("part", sorted(FORBIDDEN_LIBRARIES))
def test_parts_keep_to_their_libraries(part: str) -> None:
    reached = [where for where, top in imports_of(part) if top in FORBIDDEN_LIBRARIES[part]]
    assert not reached, "\n".join(reached)


def module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def reachable_libraries(module: str) -> dict[str, str]:
    """Third-party top-level packages imported by `module` and every module of ours it imports,
    each with the first module of ours that imports it."""
    seen: set[str] = set()
    found: dict[str, str] = {}
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        parents = current.split(".")
        todo += [".".join(parents[:i]) for i in range(1, len(parents))]  # package __init__ runs first
        path = module_file(current)
        if path is None:
            continue
        for _, imported in imported_modules(path):
            if imported.split(".")[0] in OURS:
                todo.append(imported)
            else:
                found.setdefault(imported.split(".")[0], current)
    return found


def test_key_issuing_needs_no_web() -> None:
    """`jointbuy keys` issues keys under the API's rules without loading the web stack."""
    web = {lib: by for lib, by in reachable_libraries("api.keys").items() if lib in WEB}
    assert not web, f"key issuing reaches the web: {web}"


def test_reachable_libraries_sees_the_web() -> None:
    """Control: the same walk does find the web behind the app."""
    assert "fastapi" in reachable_libraries("api.app")
