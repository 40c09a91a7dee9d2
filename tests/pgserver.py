"""A throwaway PostgreSQL server for the tests, on 127.0.0.1 only.

``PgServer.start()`` runs ``initdb`` in a fresh temporary directory, starts ``postgres``
there with ``pg_ctl`` on a free loopback port (its unix socket inside that directory,
``fsync`` off) and creates one database; ``stop()`` stops it (``pg_ctl stop -m immediate``)
and removes the directory. The binaries come from ``pg_config --bindir``, else the newest
``/usr/lib/postgresql/*/bin`` (Debian's layout), else ``PATH``. ``initdb`` refuses to run
as root, so under root the cluster belongs to, and the server runs as, an unprivileged
user: ``postgres`` (made by Debian's package) if it exists, else ``nobody``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

_TOOLS = ("initdb", "pg_ctl", "postgres", "createdb")
DBNAME = "lgtrace_test"
SUPERUSER = "postgres"


def _has_tools(bindir: str | os.PathLike[str]) -> bool:
    return all(os.access(Path(bindir, tool), os.X_OK) for tool in _TOOLS)


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl, postgres and createdb, or None if there is none."""
    candidates: list[str] = []
    if pg_config := shutil.which("pg_config"):
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            candidates.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    # Debian: /usr/lib/postgresql/<major>/bin, newest major first
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    debian.sort(key=lambda p: int(m) if (m := Path(p).parent.name).isdigit() else -1, reverse=True)
    candidates += debian
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).resolve().parent))
    for cand in candidates:
        if cand and _has_tools(cand):
            return Path(cand)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged user to run the cluster as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists to run initdb")


@dataclass
class PgServer:
    bindir: Path
    port: int = 0
    root: Path | None = None
    user: pwd.struct_passwd | None = field(default=None, repr=False)
    startup_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DBNAME}"

    @property
    def datadir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def _run(self, *args: str | os.PathLike[str], timeout: float = 60) -> None:
        kwargs = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {
            "PATH": f"{self.bindir}:/usr/bin:/bin",
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": str(self.root),
            "PGPASSFILE": os.devnull,
        }
        proc = subprocess.run(
            [str(a) for a in args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            timeout=timeout,
            **kwargs,
        )
        if proc.returncode != 0:
            log = ""
            logfile = self.root / "server.log" if self.root else None
            if logfile is not None and logfile.exists():
                log = "\n--- server.log ---\n" + logfile.read_text(errors="replace")[-4000:]
            raise RuntimeError(
                f"{Path(str(args[0])).name} failed ({proc.returncode}): {proc.stdout}{proc.stderr}{log}"
            )

    def start(self) -> PgServer:
        t0 = time.monotonic()
        self.user = _run_as()
        # /tmp: short enough for the unix socket path, and traversable by the unprivileged user
        self.root = Path(
            tempfile.mkdtemp(prefix="lgtrace-pg-", dir="/tmp" if os.path.isdir("/tmp") else None)
        )
        try:
            if self.user is not None:
                os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
            self._run(
                self.bindir / "initdb",
                "-D",
                self.datadir,
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
            # a free port can be taken between the probe and the bind: try a few
            for attempt in range(3):
                self.port = _free_port()
                opts = (
                    f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
                    " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                )
                try:
                    self._run(
                        self.bindir / "pg_ctl",
                        "-D",
                        self.datadir,
                        "-l",
                        self.root / "server.log",
                        "-o",
                        opts,
                        "-w",
                        "-t",
                        "60",
                        "start",
                        timeout=90,
                    )
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
            self._run(
                self.bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, DBNAME
            )
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._run(self.bindir / "pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
