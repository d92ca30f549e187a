"""``copilot users``: the people of the TOML config and their web sign-in passwords.

The ``[users.NAME]`` tables are edited with tomlkit, so the file's comments, order and
other settings survive. Only the argon2id hash is written; the password itself is never
printed, logged, stored or put in an error. The file is replaced atomically (a temporary
file beside it, then ``os.replace``), so a crash leaves the old config or the new one.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
import tomllib
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from copilot.errors import ConfigError, InvalidInput
from copilot.surfaces.cli.common import JSON, console, print_json

if TYPE_CHECKING:
    from tomlkit import TOMLDocument

users_app = typer.Typer(
    help="People in the config file ([users.NAME]) and their sign-in passwords.",
    no_args_is_help=True,
)

NAME_RULE = "1-64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# The file holds password hashes: a hash that leaks can be attacked offline.
_PRIVATE = 0o600
_GROUP_OR_OTHER = stat.S_IRWXG | stat.S_IRWXO

NAME = typer.Argument(..., help="user name, e.g. alice (what --as and sign-in use)")
CONFIG = typer.Option(
    None, "--config", help="the TOML file (default: COPILOT_CONFIG, else ./copilot.toml)"
)
PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="read the password as one line of stdin (for scripts)"
)


@users_app.command("add")
def add(
    name: str = NAME,
    role: list[str] = typer.Option(..., "--role", "-r", help="a role from [roles] (repeat)"),
    display_name: str | None = typer.Option(None, "--display-name", help="shown on cards"),
    update: bool = typer.Option(
        False, "--update", help="replace the roles and password of an existing user"
    ),
    password_stdin: bool = PASSWORD_STDIN,
    config: Path | None = CONFIG,
) -> None:
    """Add a user with roles and a password (asked twice, not echoed)."""
    import tomlkit
    from tomlkit.items import InlineTable

    path = _config(config)
    _check_name(name)
    doc = _read(path)
    users = _users(doc, path)
    roles = _check_roles(role, path)
    existing = users.get(name) if users is not None else None
    if existing is not None and not isinstance(existing, dict):
        raise ConfigError(f"{path}: users.{name} is not a table", "write it as [users.NAME]")
    if existing is not None and not update:
        raise InvalidInput(
            f"user {name!r} already exists in {path}",
            "add --update to replace its roles and password, or `copilot users passwd`",
        )
    password_hash = _new_hash(password_stdin)
    if users is None:
        users = tomlkit.table(is_super_table=True)
        if doc.body:
            doc.add(tomlkit.nl())  # a blank line before the new [users.NAME]
        doc.add("users", users)
    if existing is None:
        entry = tomlkit.inline_table() if isinstance(users, InlineTable) else tomlkit.table()
        entry["roles"] = roles
        if display_name:
            entry["display_name"] = display_name
        entry["password_hash"] = password_hash
        users[name] = entry
    else:
        # set keys in place, so the entry's own comments and key order stay
        existing["roles"] = roles
        if display_name is not None:
            existing["display_name"] = display_name
        existing["password_hash"] = password_hash
    _write(path, doc, name)
    verb = "updated" if existing is not None else "added"
    print(f"{verb} {name} ({', '.join(roles)}) in {path}")


@users_app.command("passwd")
def passwd(
    name: str = NAME, password_stdin: bool = PASSWORD_STDIN, config: Path | None = CONFIG
) -> None:
    """Set a user's password (only its hash changes)."""
    path = _config(config)
    doc = _read(path)
    _, entry = _existing(doc, path, name)
    entry["password_hash"] = _new_hash(password_stdin)
    _write(path, doc, name)
    print(f"password of {name} changed in {path}")


@users_app.command("remove")
def remove(name: str = NAME, config: Path | None = CONFIG) -> None:
    """Remove a user's table from the config."""
    path = _config(config)
    doc = _read(path)
    users, _ = _existing(doc, path, name)
    del users[name]
    _write(path, doc, None)
    print(f"removed {name} from {path}")


@users_app.command("sign-out")
def sign_out(name: str = NAME) -> None:
    """End every web session of a user now (a lost laptop, someone who left): their
    cookies sign nobody in any more. (A removed user's sessions end at their next request.)"""
    from copilot.surfaces.cli.common import open_service

    with open_service() as service:
        ended = service.end_sessions(name)
    print(f"ended {ended} session{'s' if ended != 1 else ''} of {name}")


@users_app.command("list")
def list_(config: Path | None = CONFIG, as_json: bool = JSON) -> None:
    """List the users of the config: name, roles, display name, whether a password is set."""
    path = _config(config)
    users = _users(_read(path), path) or {}
    rows: list[dict[str, Any]] = [
        {
            "name": str(name),
            "roles": [str(r) for r in entry.get("roles", [])],
            "display_name": str(entry.get("display_name", "")),
            "password": bool(entry.get("password_hash")),
        }
        for name, entry in users.items()
        if isinstance(entry, dict)
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        print(f"no users in {path}; add one with `copilot users add NAME --role ROLE`")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for col in ("user", "roles", "display name", "password"):
        table.add_column(col)
    for row in rows:
        # Text, not markup: a display name such as "[b]ob" is shown as written
        table.add_row(
            Text(row["name"]),
            Text(", ".join(row["roles"])),
            Text(row["display_name"]),
            "set" if row["password"] else "none",
        )
    console().print(table)


# -- checks -----------------------------------------------------------------------------------
def _config(option: Path | None) -> Path:
    """The config file this command edits. ``--config`` stands for ``COPILOT_CONFIG``, so
    the roles are read (``load_settings``) from the very file that is edited."""
    from copilot.settings import config_path

    if option is not None:
        os.environ["COPILOT_CONFIG"] = str(option)
    if os.environ.get("COPILOT_USERS"):
        print(
            f"warning: COPILOT_USERS is set: it replaces the users of {config_path()} while it is",
            file=sys.stderr,
        )
    return config_path()


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"invalid user name {name[:80]!r}", f"a name is {NAME_RULE}")


def _check_roles(wanted: list[str], path: Path) -> list[str]:
    """``wanted`` without repeats, each a role the config defines."""
    from pydantic import ValidationError

    from copilot.errors import describe_validation_error
    from copilot.settings import Settings, load_settings

    if path.is_file():
        known = set(load_settings().roles)  # also refuses a config that would not load
    else:
        # no file yet: load_settings refuses a named file that does not exist (right for
        # every other command); the roles are then the defaults or COPILOT_ROLES
        try:
            known = set(Settings().roles)
        except ValidationError as exc:
            raise ConfigError(
                f"invalid settings: {describe_validation_error(exc)}",
                "check the COPILOT_* environment variables and .env",
            ) from None
    roles = list(dict.fromkeys(wanted))
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise InvalidInput(
            f"unknown role {unknown[0]!r}", f"the configured roles are {', '.join(sorted(known))}"
        )
    return roles


def _new_hash(from_stdin: bool) -> str:
    """Read a new password (stdin or a prompt twice, unechoed) and return only its hash."""
    from copilot.auth.passwords import MIN_PASSWORD_CHARS, hash_password

    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise InvalidInput("no password on stdin", "pipe it in as one line")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(
            f"password too short: at least {MIN_PASSWORD_CHARS} characters",
            "a few unrelated words make a long password that is easy to type",
        )
    return hash_password(password)


# -- the file ---------------------------------------------------------------------------------
def _read(path: Path) -> TOMLDocument:
    """The config as a tomlkit document (empty if the file does not exist yet)."""
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8"
        raise ConfigError(f"cannot read {path}: {why}", "check the file") from None
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", "fix its syntax") from None


def _users(doc: TOMLDocument, path: Path) -> Any:
    """The file's ``users`` table, or None when it has none."""
    users = doc.get("users")
    if users is None or isinstance(users, dict):
        return users
    if isinstance(users, str):
        raise ConfigError(
            f"{path} sets users = {str(users)[:40]!r}, not [users.NAME] tables",
            f"delete that line from {path} (the demo's people have no passwords), then add "
            "users here",
        )
    raise ConfigError(f"{path}: users is not a table", "write users as [users.NAME] tables")


def _existing(doc: TOMLDocument, path: Path, name: str) -> tuple[Any, Any]:
    """The ``users`` table and the entry of ``name`` in it; refuses an unknown name."""
    users = _users(doc, path)
    entry = users.get(name) if users is not None else None
    if not isinstance(entry, dict):
        raise InvalidInput(f"no user {name[:80]!r} in {path}", "see `copilot users list`")
    return users, entry


def _write(path: Path, doc: TOMLDocument, name: str | None) -> None:
    """Replace ``path`` with ``doc`` atomically. A new file is 0600; an existing one keeps
    its mode, with a warning when group or others may read it."""
    import tomlkit

    text = tomlkit.dumps(doc)
    # never write a file the settings loader could not read back, or whose edit went astray
    parsed = tomllib.loads(text)
    if name is not None and not isinstance(parsed.get("users", {}).get(name), dict):
        raise RuntimeError("the edited config lost the user it was meant to hold")
    target = path.resolve()  # through a symlink: replace the file it points to, not the link
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = _PRIVATE
    if mode & _GROUP_OR_OTHER:
        print(
            f"warning: {path} is open to group or others (mode {mode:04o}) and holds "
            f"password hashes; consider chmod 600 {path}",
            file=sys.stderr,
        )
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}", "check the folder") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:  # an interrupt too: leave no temporary file behind
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write {path}: {exc.strerror}", "check the folder") from None
        raise
    _sync_dir(target.parent)


def _sync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every system can fsync a folder)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
