"""`jointbuy`: the operator's and developer's command line."""

from __future__ import annotations

import asyncio
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from jointbuy.config import get_settings

app = typer.Typer(help="Joint Buy: collective buying for UK councils.", no_args_is_help=True)
councils_app = typer.Typer(help="The register of councils that may take part.")
app.add_typer(councils_app, name="councils")


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
    from db.pool import create_pool
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

    async def run() -> tuple[int, int]:
        pool = await create_pool(_database_url())
        try:
            async with pool.acquire() as conn:
                return await upsert_councils(conn, councils=councils)
        finally:
            await pool.close()

    inserted, updated = asyncio.run(run())
    typer.echo(f"read {len(councils)} councils: {inserted} new, {updated} updated")


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
    from jointbuy.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None)


@app.command()
def dev(
    api_port: Annotated[int, typer.Option()] = 8000,
    temporal_port: Annotated[int, typer.Option()] = 7233,
    ui_port: Annotated[int, typer.Option()] = 8233,
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
        database_url=settings.database_url,
        admin_token=settings.jointbuy_admin_token,
        task_queue=settings.task_queue,
    )
    with stack:
        if not settings.jointbuy_admin_token:
            typer.echo(f"admin token: {stack.admin_token}  (kept in {stack.data_dir}/admin_token)")
        typer.echo(f"ready api={stack.api_url} temporal={stack.temporal_address} ui={stack.ui_url}")
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
