"""Run the pipeline locally against the embedded simulator: credentials, env, Dagster home, ``dg dev``.

``laaffic-pipeline dev`` (``make dev``) gives its simulator a fresh random secret. A second shell
beside it (``dg launch``, ``dagster job launch``) needs that secret, the simulator's URL and the
same ``DAGSTER_HOME``, so ``dev`` writes them to ``$DAGSTER_HOME/dev.env`` (mode 0600, under the
git-ignored ``.dagster_home/``, removed when ``dev`` stops) and prints ``source <file>``. The secret
is good only for that simulator, which listens on 127.0.0.1 and dies with ``dev``.

``dg dev`` runs in a process group of its own (webserver, daemon, code servers and run workers
are all in it): SIGINT, SIGTERM or SIGHUP to ``dev`` reaches the whole group as the SIGINT that
Ctrl-C in a terminal sends, and ``dev`` waits until the group has gone (SIGTERM, then SIGKILL,
after a grace period).
"""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TextIO

from laaffic_pipeline.simulator import LaafficSimulator

DEMO_API_KEY = "demo-key"
DEV_ENV_FILE_NAME = "dev.env"
SIMULATOR_VARIABLES = ("LAAFFIC_API_KEY", "LAAFFIC_API_SECRET", "LAAFFIC_BASE_URL")
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_GRACE_S = 30.0  # Ctrl-C lets `dg dev` stop its webserver, daemon and code servers in order
TERM_GRACE_S = 10.0


def prepare_dagster_home(home: Path, project_root: Path) -> Path:
    """A persistent ``DAGSTER_HOME`` whose ``dagster.yaml`` is the repository's own (linked)."""
    home.mkdir(parents=True, exist_ok=True)
    config = project_root / "dagster.yaml"
    link = home / "dagster.yaml"
    if config.exists() and not link.exists():
        link.symlink_to(config.resolve())
    return home.resolve()


@contextmanager
def simulator_environment(
    records_per_day: int = 500, port: int = 0, seed: int = 7
) -> Iterator[LaafficSimulator]:
    """Start a simulator with a fresh random secret and point ``LAAFFIC_*`` at it while open.

    The secret is in this process's environment (and its children's); only ``dev`` writes it to
    a file, for a second shell.
    """
    secret = secrets.token_urlsafe(24)
    saved = {name: os.environ.get(name) for name in SIMULATOR_VARIABLES}
    simulator = LaafficSimulator(DEMO_API_KEY, secret, seed=seed, records_per_day=records_per_day)
    simulator.start(port=port)
    with simulator:
        os.environ.update(
            {
                "LAAFFIC_API_KEY": DEMO_API_KEY,
                "LAAFFIC_API_SECRET": secret,
                "LAAFFIC_BASE_URL": simulator.base_url,
            }
        )
        try:
            yield simulator
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def dagster_dev_command(port: int) -> list[str]:
    """``dg dev`` (webserver and daemon) on this project, serving the UI on loopback."""
    dg = str(Path(sys.executable).with_name("dg"))
    return [dg, "dev", "--host", "127.0.0.1", "--port", str(port)]


def dev_env_text(env: Mapping[str, str], home: Path) -> str:
    """The dev env file: ``export`` lines for the simulator's variables and ``DAGSTER_HOME``."""
    values = {name: env[name] for name in SIMULATOR_VARIABLES} | {"DAGSTER_HOME": str(home)}
    return (
        "# Written by `laaffic-pipeline dev` (make dev) for a second shell: `source` it there, in the\n"
        "# project folder, to reach the same simulator and Dagster instance. Removed when dev stops;\n"
        "# the secret works only for that simulator (127.0.0.1). Other LAAFFIC_* settings of the\n"
        "# shell that runs dev are not copied here: export them in the second shell too.\n"
        + "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())
    )


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner alone (0600 from the start, replaced whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(partial, 0o600)  # O_CREAT's mode applies only to a new file
    partial.replace(path)


def run_process_group(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    grace_s: float = STOP_GRACE_S,
    term_grace_s: float = TERM_GRACE_S,
) -> int:
    """Run ``command`` in a new process group until it exits; returns its exit status.

    SIGINT, SIGTERM and SIGHUP to this process are passed to the whole group as SIGINT (what
    Ctrl-C in a terminal sends, which ``dg dev`` turns into an orderly stop of its webserver,
    daemon and code servers); a second one, or ``grace_s`` without an exit, sends SIGTERM, and
    ``term_grace_s`` later SIGKILL. Whatever the command leaves in its group when it exits is
    stopped the same way, so nothing started here outlives this call.
    """
    asked: list[int] = []
    group: int | None = None

    def forward(signum: int, _frame: FrameType | None) -> None:
        asked.append(signum)
        if group is not None:
            _signal_group(group, signal.SIGINT if len(asked) == 1 else signal.SIGTERM)

    # Handlers first: a caught signal reverts to the default in the child at exec, whereas one this
    # process ignores (a background job of a script ignores SIGINT) stays ignored there, and
    # `dg dev` would never hear the SIGINT passed on.
    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    try:
        process = subprocess.Popen(list(command), env=dict(env), process_group=0)
        group = process.pid
        if asked:  # a signal came while it was starting
            _signal_group(group, signal.SIGINT)
        while process.poll() is None and not asked:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=1.0)
        if asked:  # SIGINT went to the group: now its time to stop runs out
            _escalate(group, grace_s, term_grace_s, alive=lambda: process.poll() is None)
        if _group_alive(group):  # anything the command left behind in its group
            _signal_group(group, signal.SIGINT)
            _escalate(group, grace_s, term_grace_s, alive=lambda: _group_alive(group))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    status = process.wait()
    return 128 - status if status < 0 else status


def _escalate(group: int, grace_s: float, term_grace_s: float, alive: Callable[[], bool]) -> None:
    """After a SIGINT to ``group``: SIGTERM once ``grace_s`` has passed, SIGKILL ``term_grace_s``
    later, until ``alive()`` says it has gone."""
    for pause, then in ((grace_s, signal.SIGTERM), (term_grace_s, signal.SIGKILL), (term_grace_s, None)):
        deadline = time.monotonic() + pause
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not alive() or then is None:
            return
        _signal_group(group, then)


def _signal_group(group: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(group, signum)


def _group_alive(group: int) -> bool:
    """Whether a process of the process group ``group`` is still running.

    Exited ones are not counted: an orphan that has exited stays a zombie until its new parent
    reaps it, which some container init processes never do, and ``killpg(group, 0)`` counts it.
    """
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: the signal check, zombies included
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it exited while being read
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state not in ("Z", "X"):
            return True
    return False


def run_dev(
    ui_port: int = 3000, simulator_port: int = 8765, records_per_day: int = 500, out: TextIO = sys.stdout
) -> int:
    """The simulator plus ``dg dev`` (webserver and daemon) until Ctrl-C, SIGTERM or SIGHUP.

    Settings are checked before ``dg dev`` starts (``SettingsError`` naming the variable), and a
    busy port fails with an ``OSError`` naming it.
    """
    from laaffic_pipeline.settings import PipelineSettings  # imports Dagster: only when asked for

    home = prepare_dagster_home(Path(os.environ.get("DAGSTER_HOME", ".dagster_home")), Path.cwd())
    env_file = home / DEV_ENV_FILE_NAME
    with simulator_environment(records_per_day=records_per_day, port=simulator_port) as simulator:
        PipelineSettings.from_env()  # a bad LAAFFIC_* fails here, in one line, not in the UI
        env = {**os.environ, "DAGSTER_HOME": str(home)}
        text = dev_env_text(env, home)
        write_private_file(env_file, text)
        others = sorted(
            name for name in env if name.startswith("LAAFFIC_") and name not in SIMULATOR_VARIABLES
        )
        print(
            f"Laaffic simulator on {simulator.base_url}; Dagster home {home}\n"
            f"Dagster UI on http://127.0.0.1:{ui_port} once it has started. In a second shell, in this "
            f"folder:\n  source {_shown(env_file)}\n"
            "  .venv/bin/dg launch --job laaffic_daily --partition YYYY-MM-DD\n"
            + (f"  (and export {', '.join(others)} there too, as here)\n" if others else ""),
            file=out,
            flush=True,
        )
        try:
            return run_process_group(dagster_dev_command(ui_port), env)
        finally:
            if env_file.is_file() and env_file.read_text(encoding="utf-8") == text:
                env_file.unlink()  # the simulator it names is stopping


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it (what a user types)."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
