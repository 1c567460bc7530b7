"""`jointbuy`: the operator's and developer's command line."""

from __future__ import annotations

import asyncio
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer

from core.settings import get_settings

app = typer.Typer(help="Joint Buy: collective buying for UK councils.", no_args_is_help=True)
councils_app = typer.Typer(help="The register of councils that may take part.")
app.add_typer(councils_app, name="councils")
keys_app = typer.Typer(help="API keys: issue, list and revoke tokens (the CLI acts as the admin).")
app.add_typer(keys_app, name="keys")


def _database_url() -> str:
    url = get_settings().database_url
    if not url:
        raise typer.BadParameter("set DATABASE_URL (or run `jointbuy dev`, which sets it)")
    return url


@app.command()
def migrate() -> None:
    """Apply database migrations (a second run does nothing)."""
    from db.migrate import migrate_dsn

    applied = asyncio.run(migrate_dsn(_database_url()))
    typer.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


def _with_connection(work: Any) -> Any:
    """Run `work(conn)` on one connection to the configured database."""
    from db.pool import create_pool

    async def run() -> Any:
        pool = await create_pool(_database_url())
        try:
            async with pool.acquire() as conn:
                return await work(conn)
        finally:
            await pool.close()

    return asyncio.run(run())


def bundled_register() -> Path:
    """The mySociety / ONS register shipped with the package (MIT licence, see data/)."""
    return Path(str(resources.files("jointbuy").joinpath("data/uk_local_authorities.csv")))


@councils_app.command("import")
def import_councils(
    file: Annotated[Path | None, typer.Argument(help="register CSV; defaults to the bundled one")] = None,
    include_former: Annotated[bool, typer.Option(help="also import abolished authorities")] = False,
) -> None:
    """Import councils from a mySociety/ONS local-authority CSV."""
    from db.councils import upsert_councils
    from procurement.councils import parse_local_authorities
    from procurement.errors import DomainError

    path = file or bundled_register()
    try:
        councils = parse_local_authorities(
            path.read_text(encoding="utf-8-sig"), include_former=include_former
        )
    except DomainError as err:
        typer.echo(f"error: {err.message}", err=True)
        raise typer.Exit(2) from err

    inserted, updated = _with_connection(lambda conn: upsert_councils(conn, councils=councils))
    typer.echo(f"read {len(councils)} councils: {inserted} new, {updated} updated")


@keys_app.command("create")
def create_key(
    role: Annotated[str, typer.Option(help="admin, lead, council, supplier or operator")],
    organisation: Annotated[str, typer.Option(help="GSS code for a council, company number for a supplier")],
    name: Annotated[str, typer.Option(help="who the key is for")],
) -> None:
    """Issue a key; the token is printed once (only its hash is stored)."""
    from api.auth import Role
    from api.keys import issue_key
    from procurement.errors import DomainError

    try:
        principal_role = Role(role)
    except ValueError:
        raise typer.BadParameter(
            f"role must be one of {[r.value for r in Role]}", param_hint="--role"
        ) from None
    try:
        issued = _with_connection(
            lambda conn: issue_key(conn, role=principal_role, organisation_id=organisation, name=name)
        )
    except DomainError as err:
        typer.echo(f"error: {err.message}", err=True)
        raise typer.Exit(2) from err
    typer.echo(f"key_id {issued.row['key_id']}  role {role}  organisation {organisation}")
    typer.echo(f"token  {issued.token}")


@keys_app.command("list")
def list_keys(
    revoked: Annotated[bool, typer.Option("--revoked", help="include revoked keys")] = False,
) -> None:
    """List keys: id, role, organisation, name, when issued (and revoked)."""
    from db.keys import list_keys as query

    for row in _with_connection(lambda conn: query(conn, include_revoked=revoked)):
        gone = f"  revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else ""
        typer.echo(
            f"{row['key_id']}  {row['role']:<8}  {row['organisation_id']:<10}  {row['name']}  "
            f"issued {row['created_at']:%Y-%m-%d %H:%M}{gone}"
        )


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="the key_id printed when it was issued")]) -> None:
    """Revoke a key: its token stops working at once."""
    from db.keys import revoke_key

    if not _with_connection(lambda conn: revoke_key(conn, key_id=key_id)):
        typer.echo(f"error: no API key {key_id}", err=True)
        raise typer.Exit(2)
    typer.echo(f"revoked {key_id}")


@app.command()
def worker() -> None:
    """Run the Temporal worker (workflows and activities)."""
    from worker import main

    main()


@app.command()
def api(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the HTTP API with uvicorn."""
    import uvicorn

    from api.app import create_app
    from core.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None)


@app.command()
def dev(
    api_port: Annotated[int, typer.Option()] = 8000,
    temporal_port: Annotated[int, typer.Option()] = 7233,
    ui_port: Annotated[int, typer.Option()] = 8233,
    worker_metrics_port: Annotated[int, typer.Option(help="serve the worker's Prometheus metrics")] = 0,
    data_dir: Annotated[Path, typer.Option()] = Path(".jointbuy"),
) -> None:
    """Run everything: Temporal dev server + UI, PostgreSQL, migrations, worker and API."""
    from jointbuy.devstack import DevStack

    settings = get_settings()
    stack = DevStack(
        data_dir=data_dir,
        api_port=api_port,
        temporal_port=temporal_port,
        ui_port=ui_port,
        worker_metrics_port=worker_metrics_port,
        database_url=settings.database_url,
        admin_token=settings.jointbuy_admin_token,
        task_queue=settings.task_queue,
    )
    with stack:
        if not settings.jointbuy_admin_token:
            typer.echo(f"admin token: {stack.admin_token}  (kept in {stack.data_dir}/admin_token)")
        typer.echo(f"ready api={stack.api_url} temporal={stack.temporal_address} ui={stack.ui_url}")
        if worker_metrics_port:
            typer.echo(
                f"metrics api={stack.api_url}/metrics worker=http://127.0.0.1:{worker_metrics_port}/metrics"
            )
        sys.stdout.flush()
        stack.wait()
    typer.echo("stopped")


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option()] = Path(".jointbuy"),
) -> None:
    """Run a joint buy end to end through the HTTP API (starting the dev stack if needed)."""
    from jointbuy.demo import run_demo

    raise typer.Exit(run_demo(data_dir))


if __name__ == "__main__":
    app()
