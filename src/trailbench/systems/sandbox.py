"""The sandbox a system under test runs in (DESIGN §10), built with bubblewrap.

Why bubblewrap: it is the unprivileged sandbox Flatpak ships, packaged by every Linux
distribution, and it sets up exactly the namespaces the design asks for (user, mount, PID, IPC,
UTS, network, cgroup) from one command line, with no daemon and no root. ``unshare`` alone would
need root for the mounts; Landlock and seccomp restrict what a process may open or call but hide
neither the harness's processes nor the network, so they complement rather than replace it.
The memory and process limits of the whole tree come from a control group (see ``limits``).

Inside, a system sees:

- ``/sandbox/trails``, ``/sandbox/docket`` and ``/sandbox/config.json``, read-only;
- ``/sandbox/answers/<system>``, its only writable directory on disk, and a private ``/tmp``
  (a size-capped tmpfs whose pages count against its memory limit);
- the operating system's programs and libraries and the Python interpreter with its packages,
  read-only; nothing else of the host's file system (no run directory, no world, no truth);
- its own ``/proc`` (its own processes only), a minimal ``/dev``, a loopback-only network,
  an empty environment but for a few fixed variables, no capabilities, uid 65534.

bubblewrap's ``--die-with-parent`` and the PID namespace mean every process of the system dies
when its first process exits, when the harness kills it, or when the harness itself dies.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BOX = Path("/sandbox")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
NAMESPACES = ("user", "mount", "pid", "ipc", "uts", "net", "cgroup")
UID = 65534  # "nobody"
ENV = {"LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/tmp", "TMPDIR": "/tmp"}


@dataclass(frozen=True)
class Bubblewrap:
    """bubblewrap as found on this machine: its path and version, or why it cannot be used."""

    path: str | None
    version: str
    problem: str

    @property
    def usable(self) -> bool:
        return self.path is not None and not self.problem


FLAGS = (
    "--unshare-user",
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    "sandbox",
    "--uid",
    str(UID),
    "--gid",
    str(UID),
    "--disable-userns",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
)


@functools.cache
def bubblewrap() -> Bubblewrap:
    """Find bubblewrap and check, once per process, that it can build the sandbox here."""
    if not sys.platform.startswith("linux"):
        return Bubblewrap(None, "", f"isolation needs Linux namespaces; this is {sys.platform}")
    path = shutil.which("bwrap")
    if path is None:
        return Bubblewrap(None, "", "bubblewrap (bwrap) is not installed; on Debian: apt-get install bubblewrap")
    try:
        ver = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout.split()
        probe = subprocess.run(
            [path, *FLAGS, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as err:
        return Bubblewrap(path, "", f"bubblewrap failed to start: {err}")
    version = ver[-1] if ver else "unknown"
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no message"])[-1][:200]
        return Bubblewrap(
            path, version, f"bubblewrap cannot create namespaces here ({why}); user namespaces may be off"
        )
    return Bubblewrap(path, version, "")


def _inside(path: Path, other: Path) -> bool:
    return path == other or other in path.parents


def python_mounts() -> list[Path]:
    """What the interpreter needs: its prefixes, its site-packages, the directories that ``.pth``
    files add (an editable install's source), and trailbench itself. Not ``sys.path`` as a whole:
    its first entry is often the current directory, which may hold other runs' truth."""
    import site

    import trailbench

    found = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)]
    sites = [Path(p) for p in [*site.getsitepackages(), site.getusersitepackages()] if Path(p).is_dir()]
    found += sites
    for sp in sites:
        for pth in sp.glob("*.pth"):
            try:
                lines = pth.read_text().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            found += [Path(ln.strip()) for ln in lines if ln.strip().startswith("/") and Path(ln.strip()).is_dir()]
    found.append(Path(trailbench.__file__).resolve().parent.parent)
    return sorted({p.resolve() for p in found} | set(found))


def safe_mounts(paths: list[Path], forbidden: list[Path]) -> list[Path]:
    """Drop any mount that would show a forbidden directory (the run directory, say): a path
    inside one, or one that contains it."""
    out = []
    for p in paths:
        a = p.absolute()
        if any(_inside(a, f) or _inside(f, a) for f in forbidden):
            continue
        out.append(a)
    return sorted(set(out))


def argv(
    bwrap: Bubblewrap,
    *,
    run: Path,
    answers: Path,
    config: Path,
    name: str,
    command: list[str],
    extra: list[Path],
    pythonpath: list[Path],
    tmp_bytes: int,
) -> list[str]:
    """The bubblewrap command line that runs ``command`` (which gets ``/sandbox`` last)."""
    assert bwrap.path is not None
    run, answers, config = run.resolve(), answers.resolve(), config.resolve()  # bubblewrap starts elsewhere
    forbidden = [run, answers.parent]
    args = [bwrap.path, *FLAGS, "--clearenv"]
    env = {**ENV, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    for k, v in env.items():
        args += ["--setenv", k, v]
    args += ["--size", str(tmp_bytes), "--tmpfs", "/tmp"]  # first, so binds below /tmp stay visible
    for d in SYSTEM_DIRS:
        args += ["--ro-bind-try", d, d]
    wanted = safe_mounts(python_mounts() + extra, forbidden)
    covered = [Path(d) for d in SYSTEM_DIRS] + wanted
    for p in wanted:  # a path below another mount is already visible through it
        if not any(c != p and _inside(p, c) for c in covered):
            args += ["--ro-bind", str(p), str(p)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--ro-bind", str(run / "trails"), str(BOX / "trails")]
    args += ["--ro-bind", str(run / "docket"), str(BOX / "docket")]
    args += ["--ro-bind", str(config), str(BOX / "config.json")]
    args += ["--bind", str(answers), str(BOX / "answers" / name)]
    args += ["--remount-ro", "/", "--chdir", str(BOX), "--", *command, str(BOX)]
    return args
