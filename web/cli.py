"""The ``rectiflow`` command: set up, manage people, load the demo, lint diagrams, serve."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine.audit import admin_log, backup, keys, retention
from engine.audit import audit as history_audit
from engine.bpmn import deploy, live
from engine.bpmn.bundle import FORMS, Bundle, from_folder
from engine.bpmn.document import executable_process, parse_xml
from engine.bpmn.findings import Severity
from engine.bpmn.lint import lint
from engine.bpmn.model import form_keys
from engine.deadlines.worker import Worker
from engine.evidence import storage
from engine.identity import administration, identity
from engine.ledger import demo
from engine.store import clock, migrate
from engine.store.config import Settings
from engine.store.db import make_engine, make_session_factory, transaction
from engine.store.errors import InvalidDiagram, RectiflowError
from engine.store.models import utcnow


@contextmanager
def _database(settings: Settings) -> Iterator[Engine]:
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _unit_of_work(settings: Settings) -> Iterator[Session]:
    key = keys.load(settings)
    with _database(settings) as engine, transaction(make_session_factory(engine, key)) as session:
        yield session


def _cli_actor() -> str:
    """Admin actions from the command line are logged as ``cli:<OS user>``: whoever holds the server's shell."""
    try:
        who = getpass.getuser()
    except OSError:  # no login name and no passwd entry (some containers)
        who = f"uid{os.getuid()}"
    return f"cli:{who}"[:64]


def _log(session: Session, action: str, target: str, **detail: object) -> None:
    admin_log.record(session, _cli_actor(), action, target, None, **detail)


def _read_password(from_stdin: bool) -> str:
    """One line from stdin (scripts, secret managers), or typed twice without echo."""
    if not from_stdin:
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        raise click.ClickException("no password on stdin: send it as the first line")
    return password


class _Group(click.Group):
    """Domain errors print as a message and exit 1, never as a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RectiflowError as exc:
            raise click.ClickException(exc.detail) from exc


@click.group(cls=_Group)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Rectiflow: 整改事项 rectification items driven by BPMN."""
    ctx.obj = Settings.from_env()


@main.command()
@click.pass_obj
def init(settings: Settings) -> None:
    """Make the audit key if there is none, create or upgrade the schema, deploy the bundled diagrams (idempotent)."""
    made = keys.create(settings)
    if made is not None:
        click.echo(
            f"audit key made: {made} - keep a copy apart from the database and its backups (a password safe): "
            "restoring a backup needs it"
        )
    with _database(settings) as engine:
        migrate.upgrade(engine, keys.load(settings))
    with _unit_of_work(settings) as session:
        for definition, created in deploy.deploy_bundled(session, settings.processes_path):
            state = "deployed" if created else "unchanged"
            if created:
                _log(session, "process.deploy", f"{definition.key} v{definition.version}", sha256=definition.sha256)
            click.echo(f"{definition.key} v{definition.version}: {state}")


@main.group()
def department() -> None:
    """Departments (单位)."""


@department.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--external", is_flag=True, help="A unit outside the office (e.g. 市民政局).")
@click.pass_obj
def department_add(settings: Settings, code: str, name: str, external: bool) -> None:
    with _unit_of_work(settings) as session:
        identity.add_department(session, code, name, external)
        _log(session, "department.create", code, name=name, external=external)
    click.echo(f"department {code} added")


@main.group()
def user() -> None:
    """Users and their roles."""


@user.command("add")
@click.argument("username")
@click.option("--department", "department_code", help="Department code.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in identity.Role]))
@click.option("--display-name", help="Name shown to people (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read a login password from the first line of stdin.")
@click.pass_obj
def user_add(
    settings: Settings,
    username: str,
    department_code: str | None,
    roles: tuple[str, ...],
    display_name: str | None,
    password_stdin: bool,
) -> None:
    """Add USERNAME; without --password-stdin they sign in with tokens only."""
    password = _read_password(True) if password_stdin else None
    with _unit_of_work(settings) as session:
        identity.add_user(session, username, department_code, list(roles), display_name, password)
        _log(session, "user.create", username, department=department_code, roles=sorted(roles), password=bool(password))
    click.echo(f"user {username} added")


@user.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def user_password(settings: Settings, username: str, password_stdin: bool) -> None:
    """Set USERNAME's password (typed twice, or from stdin); their login tokens are revoked."""
    password = _read_password(password_stdin)
    with _unit_of_work(settings) as session:
        ended = identity.set_password(session, identity.user_by_username(session, username), password)
        _log(session, "user.password", username, login_tokens_revoked=ended)
    click.echo(f"password of {username} set; {ended} login token(s) revoked")


@user.command("sign-out")
@click.argument("username")
@click.pass_obj
def user_sign_out(settings: Settings, username: str) -> None:
    """End every browser session of USERNAME and revoke their login tokens."""
    with _unit_of_work(settings) as session:
        actor = administration.Actor(_cli_actor(), None)
        administration.sign_out_everywhere(session, actor, identity.user_by_username(session, username))
    click.echo(f"{username} signed out everywhere")


@user.command("link-sso")
@click.argument("username")
@click.argument("subject")
@click.option("--issuer", help="The provider's issuer (default: RECTIFLOW_OIDC_ISSUER).")
@click.pass_obj
def user_link_sso(settings: Settings, username: str, subject: str, issuer: str | None) -> None:
    """Let the single sign-on identity SUBJECT (the provider's ``sub``) log in as the existing USERNAME."""
    issuer = issuer or (settings.oidc.issuer if settings.oidc else None)
    if not issuer:
        raise click.UsageError("no RECTIFLOW_OIDC_ISSUER is configured: give --issuer")
    with _unit_of_work(settings) as session:
        actor = administration.Actor(_cli_actor(), None)
        administration.link_sso(session, actor, identity.user_by_username(session, username), issuer, subject)
    click.echo(f"{username} linked to {subject} at {issuer}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="", help="What the token is for.")
@click.option("--expires-in-days", type=click.IntRange(1, 3660), help="Refused after this many days (default: never).")
@click.pass_obj
def token_create(settings: Settings, username: str, name: str, expires_in_days: int | None) -> None:
    """Print a new token for USERNAME (alone on the last line; it is not shown again)."""
    expires_at = utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    with _unit_of_work(settings) as session:
        issued = identity.issue_token(session, identity.user_by_username(session, username), name, expires_at)
        _log(session, "token.create", str(issued.row.id), username=username, name=name, expires_at=_iso(expires_at))
    until = f"valid until {_iso(expires_at)}" if expires_at else "valid until revoked"
    click.echo(f"token {issued.row.id} for {username}, {until} (store it now, it is not shown again):")
    click.echo(issued.secret)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


@token.command("list")
@click.argument("username")
@click.pass_obj
def token_list(settings: Settings, username: str) -> None:
    """USERNAME's tokens: id, name, created, expires, last used, revoked (never the secret)."""
    with _unit_of_work(settings) as session:
        rows = identity.tokens_of(session, identity.user_by_username(session, username))
    click.echo("id\tname\tcreated\texpires\tlast used\trevoked")
    for row in rows:
        moments = (row.created_at, row.expires_at, row.last_used_at, row.revoked_at)
        click.echo("\t".join([str(row.id), row.name or "-", *(_iso(moment) or "-" for moment in moments)]))


@token.command("revoke")
@click.argument("token_id", type=click.IntRange(1, 2**31 - 1))
@click.pass_obj
def token_revoke(settings: Settings, token_id: int) -> None:
    """Revoke token TOKEN_ID (see ``token list``): it is refused from now on."""
    with _unit_of_work(settings) as session:
        row = identity.token_by_id(session, token_id)
        identity.revoke(row)
        _log(session, "token.revoke", str(row.id), username=row.user.username)
    click.echo(f"token {token_id} of {row.user.username} revoked")


@main.group()
def audit() -> None:
    """The tamper-evident history."""


@audit.command("verify")
@click.pass_obj
def audit_verify(settings: Settings) -> None:
    """Recompute every hash chain and every evidence file's hash; exit 1 naming each broken event or file."""
    with _unit_of_work(settings) as session:
        report = history_audit.verify(session, _files(settings))
    _print_report(report)


def _print_report(report: history_audit.Report) -> None:
    for problem in report.problems:
        # The first problems (``audit.MAX_SHOWN``); the last line counts them all.
        click.echo(f"item {problem['item_id']} event {problem['seq']}: {problem['reason']}")
    click.echo(f"{'OK' if report.ok else 'TAMPERED'}: {report.checked} events checked, {report.problem_count} problems")
    if not report.ok:
        raise SystemExit(1)


@audit.command("prune")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@click.option("--archive-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: <instance>/archive.")
@click.pass_obj
def audit_prune(settings: Settings, dry_run: bool, archive_dir: Path | None) -> None:
    """Archive, then remove, the history of items closed longer ago than RECTIFLOW_HISTORY_RETENTION_DAYS."""
    with _unit_of_work(settings) as session:
        result = retention.prune(
            session,
            retention_days=settings.history_retention_days,
            today=clock.today(settings.timezone),
            timezone=settings.timezone,
            archive_dir=archive_dir or settings.instance_path / "archive",
            actor=_cli_actor(),
            dry_run=dry_run,
        )
    verb = "would remove" if dry_run else "removed"
    cutoff = f"{result.cutoff:%Y-%m-%d %H:%M} UTC"
    click.echo(f"{verb} {result.events} events of {result.items} items closed before {cutoff}")
    if result.archive:
        click.echo(f"archive: {result.archive}")


@audit.command("verify-archive")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def audit_verify_archive(settings: Settings, archive: Path) -> None:
    """Check that ARCHIVE is exactly the history that pruning removed; exit 1 otherwise."""
    with _unit_of_work(settings) as session:
        report = retention.verify_archive(session, archive)
    _print_report(report)


def _files(settings: Settings) -> storage.FileStore:
    return storage.open_store(settings.evidence, settings.instance_path)


def _counts(counts: dict[str, int]) -> None:
    for table, rows in counts.items():
        click.echo(f"  {table:<20} {rows:>9}")


@main.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.pass_obj
def export_command(settings: Settings, file: Path) -> None:
    """Write a consistent backup of the whole database and its evidence files to FILE
    (without tokens, passwords and the audit key)."""
    with _database(settings) as engine:
        summary = backup.export(engine, file, _files(settings))
    click.echo(f"exported to {file} (schema revision {summary.schema_revision}):")
    _counts(summary.counts)


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def import_command(settings: Settings, file: Path) -> None:
    """Restore FILE into an empty database, all or nothing, its evidence files into the file store;
    refused when its history or a file does not verify."""
    key = keys.load(settings)
    with _database(settings) as engine:
        restored = backup.restore(engine, file, key, _files(settings))
    click.echo(f"imported {file} (schema revision {restored.summary.schema_revision}):")
    _counts(restored.summary.counts)
    click.echo(f"audit verify: OK: {restored.verified.checked} events checked, 0 problems")
    click.echo("users have no password and no token: an administrator sets passwords, people ask for new tokens")


def _bundles(paths: tuple[Path, ...]) -> list[tuple[Path, Bundle]]:
    """Each diagram named (or in a folder named) as deploy would take it: the forms it names from its ``forms/``
    folder, or from the .json files named (by file name), which win."""
    given = {path.name: path.read_bytes() for path in paths if path.suffix == ".json"}
    found = [path for path in paths if path.suffix == ".bpmn"]
    found += [diagram for path in paths if path.is_dir() for diagram in sorted(path.glob("*.bpmn"))]
    bundles = []
    for diagram in found:
        try:
            folder = from_folder(diagram, diagram.parent / FORMS)
            named = form_keys(executable_process(parse_xml(folder.diagram)))
        except InvalidDiagram:  # not even a readable diagram: the lint says why
            folder, named = Bundle(diagram.read_bytes()), {}
        forms = {**folder.forms, **{k: given[k] for k in given if k in named}}
        bundles.append((diagram, Bundle(folder.diagram, forms, folder.decisions)))
    return bundles


@main.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def lint_command(files: tuple[Path, ...]) -> None:
    """Lint .bpmn FILES (or the diagrams of a folder) with their forms and decisions: a forms/ folder and the
    .dmn files beside each diagram, and any .json FILES named by file name. One line per problem; exit 1 if any
    is an error. No database needed.
    """
    diagrams = _bundles(files)
    if not diagrams:
        raise click.UsageError("no .bpmn file among FILES")
    errors = warnings = 0
    for diagram, bundle in diagrams:
        for problem in lint(bundle.diagram, bundle.forms, bundle.decisions):
            where = f"{diagram}:{problem.line}" if problem.line else str(diagram)
            click.echo(f"{where} {problem.element or '-'} {problem.code} {problem.severity}: {problem.message}")
            errors += problem.severity is Severity.ERROR
            warnings += problem.severity is Severity.WARNING
    click.echo(f"{len(diagrams)} diagram(s): {errors} error(s), {warnings} warning(s)", err=True)
    if errors:
        raise SystemExit(1)


@main.command("demo")
@click.pass_obj
def demo_command(settings: Settings) -> None:
    """Load the demo data when the database is empty; print fresh tokens for the demo users."""
    with _unit_of_work(settings) as session:
        result = demo.load(session, settings.timezone)
    click.echo(f"demo data {'loaded' if result.loaded else 'already present'}: {result.items} items")
    click.echo(f"pages: log in as any user below with the password {demo.DEMO_PASSWORD!r}")
    for username, secret in result.tokens.items():
        click.echo(f"  {username:<28} Authorization: Bearer {secret}")


def _worker(engine: Engine, settings: Settings, name: str, lease: float, batch: int, verbose: bool) -> Worker:
    key = keys.load(settings)
    live.pool.capacity = settings.live_workflows

    def report(job_id: int, item_id: int | None, fired: list[str]) -> None:
        click.echo(f"job {job_id} item {item_id} fired {','.join(fired) or '-'}")
        sys.stdout.flush()

    return Worker(
        make_session_factory(engine, key),
        name=name,
        lease=dt.timedelta(seconds=lease),
        batch=batch,
        on_done=report if verbose else None,
        mail=settings.mail,
    )


@main.command("worker")
@click.option("--name", default=lambda: f"{socket.gethostname()}:{os.getpid()}", help="Shown on the jobs it leases.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between looks when nothing is due.")
@click.option("--lease", default=60.0, show_default=True, help="Seconds a claimed job stays ours.")
@click.option("--batch", default=10, show_default=True, help="Jobs claimed at a time.")
@click.option("--until-idle", is_flag=True, help="Exit once no job is due.")
@click.pass_obj
def worker_command(settings: Settings, name: str, interval: float, lease: float, batch: int, until_idle: bool) -> None:
    """Fire due BPMN timers and run other background jobs."""
    with _database(settings) as engine:
        worker = _worker(engine, settings, name, lease, batch, verbose=True)
        worker.run_until(threading.Event(), interval, until_idle=until_idle)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--worker/--no-worker", default=True, show_default=True, help="Run one worker thread beside the server.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, threads: int, worker: bool) -> None:
    """Serve the API with waitress (a production WSGI server); port 0 picks a free port."""
    from waitress.server import create_server

    from web import create_app

    if worker:
        engine = make_engine(settings.database_url)
        background = _worker(engine, settings, f"{socket.gethostname()}:{os.getpid()}:serve", 60.0, 10, False)
        threading.Thread(target=background.run_until, args=(threading.Event(), 1.0), daemon=True).start()
    # Behind RECTIFLOW_TRUSTED_PROXIES proxies the app's ProxyFix reads X-Forwarded-*: waitress must pass them on
    # (it drops them by default, and every client would look like the proxy).
    server = create_server(
        create_app(),
        host=host,
        port=port,
        threads=threads,
        ident="rectiflow",
        clear_untrusted_proxy_headers=not settings.trusted_proxies,
    )
    # Printed once the socket listens, so scripts can wait for this line instead of polling.
    click.echo(f"Rectiflow listening on http://{host}:{server.effective_port}/api/v1/docs", nl=True)
    sys.stdout.flush()
    server.run()


if __name__ == "__main__":
    main()
