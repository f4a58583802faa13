"""A bubblewrap sandbox for the kernels that run students' notebooks.

``kernel_manager(scratch, readable, limits, env)`` returns a jupyter_client ``AsyncKernelManager`` (for nbclient's
``NotebookClient(km=...)``) whose kernel runs under ``bwrap`` (bubblewrap, Debian package ``bubblewrap``):

* **Namespaces.** Its own PID, network, IPC and UTS namespaces, so the kernel sees only its own processes, has no
  network at all (not even loopback to the grader), and cannot signal anything outside. ``--die-with-parent`` ties
  the sandbox to the process that started bwrap; ``--new-session`` detaches it from the grader's terminal.
* **Processes never outlive it.** bwrap's init is PID 1 of the namespace; when it dies the kernel (Linux) kills every
  process left in the namespace, ``setsid`` and double-forked daemons included. Killing bwrap kills that init
  (die-with-parent), so the manager's shutdown (nbclient uses ``shutdown_kernel="immediate"``: SIGKILL to bwrap's
  process group), a SIGKILL of the worker that owns bwrap, or the kernel's own death all end the whole sandbox.
  The manager's clean-up also calls ``kill_all``, which waits until no process of the sandbox is left.
* **Filesystem allowlist.** An empty root with read-only binds of /usr, /etc, /bin, /sbin, /lib* (symlinks where
  they are symlinks on merged-/usr systems), the Python installation (``sys.prefix``, ``sys.base_prefix`` and every
  hop of ``sys.executable``'s symlinks), the course package ``ROOT/utils`` (never the repository: no solutions,
  .git, build or grades) and the ``readable`` paths; a fresh /proc, a minimal /dev, a private size-limited /tmp
  and /dev/shm. ``scratch`` is the only writable folder of the host, bound at its own absolute path so paths agree
  inside and outside; the root itself is remounted read-only.
* **An unprivileged user with limits.** The in-sandbox entry point (``python sandbox.py CONFIG -- KERNEL_CMD``, see
  ``main``) sets RLIMIT_AS, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_CPU and RLIMIT_CORE=0, drops to the sandbox's uid,
  closes every inherited file descriptor and execs the kernel. When the grader is root the kernel runs as a fresh
  random uid/gid in 200000-260000 with no supplementary groups (root ignores RLIMIT_NPROC, and a per-call uid lets
  ``kill_all`` find every process of it); the scratch folder is chowned to that uid first. When the grader is not
  root, bwrap makes a user namespace, the kernel keeps the grader's uid, and RLIMIT_NPROC is set to the number of
  threads that uid already runs plus ``limits.processes`` (on kernels before 5.14 the limit counts all of the
  user's processes, not only the sandbox's). RLIMIT_AS counts reserved address space, so the entry point also sets
  ``MALLOC_ARENA_MAX=4`` unless the env sets it (glibc reserves 64 MiB per arena, up to 8 arenas per core).
* **ZeroMQ over ipc.** Without a network the kernel cannot reach TCP ports on the host, so the manager uses
  jupyter_client's ``ipc`` transport with sockets and the connection file in ``scratch/runtime``; the kernel is
  interrupted by an ``interrupt_request`` message (a signal to bwrap would kill it, not reach the kernel).

Caveat: die-with-parent is Linux's parent-death signal, which follows the *thread* that started bwrap. Start
kernels from the main thread or a thread that lives as long as the kernel (nbclient and jupyter_client's run_sync
do), or the sandbox dies when that thread ends.

``sandbox=False`` (the instructor's ``--no-sandbox``) gives a plain manager with the same env and cwd.
``unavailable()`` says why a sandbox cannot be built here, and how to get one.
"""

from __future__ import annotations

import functools
import json
import os
import random
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

PACKAGE = Path(__file__).resolve().parents[1]  # ROOT/utils: the only part of the repository the kernel sees
ROOT = PACKAGE.parent
ENTRY = Path(__file__).resolve()  # run as a script inside the sandbox (no package import, no site)
UID_RANGE = (200000, 260000)  # far above distributions' system and login uids
MERGED_USR = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")  # symlinks into /usr on merged-/usr systems
IPC_PATH_MAX = 100  # a unix socket path (sun_path) holds 107 bytes; leave room for ZeroMQ's "-PORT" suffix
SHM_BYTES = 64 * 2**20  # the sandbox's /dev/shm (at most tmp_bytes)
INFO_TIMEOUT_S = 10.0
KILL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Limits:
    """Resource limits of every process in the sandbox."""

    # Measured VmPeak (2 cores, MALLOC_ARENA_MAX=4): TensorFlow + a small Keras fit 1.6 GiB; each solution
    # notebook under the smoke profile 1.9-2.7 GiB (transfer learning the most); 3.7 GiB with TensorFlow's pools
    # forced to 128 threads, as on a big grader (each thread reserves an 8 MiB stack). 8 GiB leaves a margin.
    memory_bytes: int = 8 * 2**30  # RLIMIT_AS of each process in the sandbox
    processes: int = 512  # RLIMIT_NPROC: threads count too (TensorFlow starts a few per core)
    file_bytes: int = 512 * 2**20  # RLIMIT_FSIZE
    cpu_seconds: int = 3600  # RLIMIT_CPU per process
    tmp_bytes: int = 256 * 2**20  # size of the private /tmp tmpfs (tmpfs pages are not counted in RLIMIT_AS)
    cpus: float = 0.0  # CPU share of the whole sandbox (a cgroup quota, where cgroups can be made; 0: no cap)


# ---------------------------------------------------------------------------
# Can a sandbox be built here?
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _bwrap_help(bwrap: str) -> str:
    """Return bwrap's --help text (to see which options this version has)."""
    try:
        return subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


@functools.lru_cache(maxsize=1)
def unavailable() -> str:
    """Return '' when a sandbox can be built here (tried once, then cached), else a paragraph: why not and how."""
    if not sys.platform.startswith("linux"):
        return (f"The grading sandbox needs Linux (bubblewrap and Linux namespaces); this is {sys.platform}. "
                "Grade inside a Linux virtual machine or container (on macOS: a Linux VM such as UTM, Lima or "
                "multipass, or Docker Desktop with `docker run --privileged`), with bubblewrap installed there "
                "(`apt-get install bubblewrap`). Only for submissions you trust: --no-sandbox.")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return ("The grading sandbox needs bubblewrap (`bwrap`), which is not on PATH. Install it: "
                "`apt-get install bubblewrap` on Debian/Ubuntu, `dnf install bubblewrap` on Fedora/RHEL, "
                "`pacman -S bubblewrap` on Arch, `apk add bubblewrap` on Alpine; on macOS grade inside a Linux VM "
                "or container. Only for submissions you trust: --no-sandbox.")
    true = next((p for p in ("/usr/bin/true", "/bin/true") if os.path.exists(p)), "true")
    scratch = Path(tempfile.mkdtemp(prefix="sandbox-trial-"))
    try:
        # The whole path a kernel takes (binds, limits, the uid drop), with `true` for the kernel.
        uid = _free_uid() if os.geteuid() == 0 else None
        (scratch / "work").mkdir()
        if uid is not None:
            _chown_tree(scratch, uid, uid)
        trial = subprocess.run([*_command(bwrap, scratch, [], Limits(), uid, uid, []), true],
                               capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as exc:
        return (f"bubblewrap ({bwrap}) could not be run: {exc}. "
                "Reinstall it (`apt-get install --reinstall bubblewrap`).")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if trial.returncode == 0:
        return ""
    detail = " ".join(trial.stderr.split())[:300] or f"exit status {trial.returncode}"
    return (f"bubblewrap ({bwrap}) is installed but cannot build the sandbox here: {detail}. "
            "Usually the kernel forbids the namespaces it needs. Unprivileged user namespaces may be disabled: "
            "`sysctl -w kernel.unprivileged_userns_clone=1` (Debian/Ubuntu kernels), "
            "`sysctl -w user.max_user_namespaces=15000`, or on Ubuntu 23.10+ "
            "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor profile for bwrap). "
            "Inside Docker or Podman the container needs the right to make namespaces and mounts "
            "(`--privileged`, or `--cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt "
            "apparmor=unconfined`). Only for submissions you trust: --no-sandbox.")


# ---------------------------------------------------------------------------
# The bwrap command line
# ---------------------------------------------------------------------------


def _namespace_args(bwrap: str) -> list[str]:
    """Return bwrap, its namespace, session and capability options."""
    args = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--hostname", "sandbox",
            "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:
        # bwrap runs privileged (no user namespace); the entry point needs exactly these two to drop to the
        # sandbox uid, which then clears every capability.
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user"]
        if "--disable-userns" in _bwrap_help(bwrap):  # no nested user namespaces: less kernel surface
            args += ["--disable-userns"]
    return args


def _system_args() -> list[str]:
    """Return the read-only system directories, /proc and /dev."""
    args = []
    for top in ("/usr", "/etc"):
        if os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for top in MERGED_USR:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args + ["--proc", "/proc", "--dev", "/dev"]


def _python_paths() -> list[Path]:
    """Return the Python installation the kernel needs: prefixes and every hop of sys.executable's symlinks."""
    paths = [Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)]
    hop = Path(os.path.abspath(sys.executable))
    for _ in range(40):  # a venv's python -> python3 -> /opt/.../bin/python3.11: each hop's folder must exist
        paths.append(hop.parent)
        if not hop.is_symlink():
            break
        hop = Path(os.path.normpath(hop.parent / os.readlink(hop)))
    paths.append(hop.parent.parent)  # the real interpreter's prefix (its lib/ holds libpython and the stdlib)
    return paths


def _covered(path: Path, by: list[Path]) -> bool:
    """Whether path is one of, or inside one of, the given folders."""
    return any(path == other or other in path.parents for other in by)


def _filesystem_args(scratch: Path, readable: list[Path], limits: Limits, bwrap: str) -> list[str]:
    """Return the filesystem allowlist: system, /tmp, Python, the course package, readable paths, scratch."""
    args = _system_args()
    tmp = ["--perms", "1777"]
    if "--size" in _bwrap_help(bwrap):  # an older bwrap has no --size: then /tmp stays root's (no RAM to fill)
        tmp += ["--size", str(int(limits.tmp_bytes))]
        # POSIX semaphores (multiprocessing's locks) live in /dev/shm; a small one, as tmpfs escapes RLIMIT_AS.
        args += ["--perms", "1777", "--size", str(min(int(limits.tmp_bytes), SHM_BYTES)), "--tmpfs", "/dev/shm"]
    else:
        tmp = ["--perms", "0755"]
    args += [*tmp, "--tmpfs", "/tmp"]
    mounts = [Path("/usr"), Path("/etc")]  # host folders bound whole: what lies inside exists with its own modes
    made: set[Path] = set()

    def bind(option: str, source: Path, dest: Path) -> None:
        """Bind source at dest, first making dest's missing parents."""
        # bwrap would make missing parents 0700 (root's), which the sandbox uid could not cross: make them 0755.
        for parent in reversed(dest.parents[:-1]):
            if parent not in made and not _covered(parent, mounts):
                args.extend(["--perms", "0755", "--dir", str(parent)])
                made.add(parent)
        args.extend([option, str(source), str(dest)])
        mounts.append(dest)

    for path in [*_python_paths(), PACKAGE, *readable]:
        path = Path(os.path.abspath(path))
        if ROOT == path or path in ROOT.parents:
            raise ValueError(f"{path} holds the course repository ({ROOT}); the sandbox may only read ROOT/utils")
        for variant in dict.fromkeys([path, path.resolve()]):  # a symlinked path must work under both names
            if variant.exists() and not _covered(variant, mounts):
                bind("--ro-bind", variant, variant)
    for variant in dict.fromkeys([scratch, scratch.resolve()]):
        bind("--bind", scratch.resolve(), variant)
    # The empty root bwrap builds (and the folders it made for the binds) become read-only; mounts keep theirs.
    # No --chdir: bwrap has dropped its capabilities by then and root may not enter the sandbox uid's 0700 scratch;
    # the entry point changes directory once it is that uid.
    return args + ["--remount-ro", "/"]


def _command(bwrap: str, scratch: Path, readable: list[Path], limits: Limits, uid: int | None, gid: int | None,
             bwrap_extra: list[str]) -> list[str]:
    """Return the command that runs what follows it in the sandbox: bwrap, then the entry point, then '--'."""
    nproc = limits.processes if uid is not None else _threads_of(os.getuid()) + limits.processes
    config = {"uid": uid, "gid": gid, "limits": asdict(limits), "nproc": nproc, "cwd": str(scratch / "work")}
    return [*_namespace_args(bwrap), *_filesystem_args(scratch, readable, limits, bwrap), *bwrap_extra, "--",
            sys.executable, "-I", "-S", str(ENTRY), json.dumps(config), "--"]


# ---------------------------------------------------------------------------
# Processes of a sandbox
# ---------------------------------------------------------------------------


def _status(pid: str) -> dict[str, str]:
    """Return /proc/PID/status as a dict ({} when the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _pids() -> list[str]:
    """Return the pids in /proc."""
    try:
        return [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _pid_namespace(pid: int | str) -> str | None:
    """Return the PID namespace of a process ('pid:[4026...]'), or None when it is gone or not ours to see."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _free_uid() -> int:
    """Return a random uid in UID_RANGE that no process runs as."""
    used = {_status(pid).get("Uid", "").split("\t")[0] for pid in _pids()}
    rng = random.SystemRandom()
    for _ in range(100):
        uid = rng.randrange(*UID_RANGE)
        if str(uid) not in used:
            return uid
    raise RuntimeError(f"no free uid in {UID_RANGE}")


def _threads_of(uid: int) -> int:
    """Return how many threads (what RLIMIT_NPROC counts) processes of a real uid run."""
    total = 0
    for pid in _pids():
        status = _status(pid)
        if status.get("Uid", "").split("\t")[0] == str(uid):
            total += int(status.get("Threads", "1").strip() or 1)
    return total


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    """Give a folder and everything in it to uid:gid, never following symlinks."""
    os.chown(top, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            try:
                os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)
            except FileNotFoundError:
                pass


def _sandbox_pids(uid: int | None, namespace: str | None) -> list[int]:
    """Return the live (non-zombie) processes in the sandbox's PID namespace or running as its own uid."""
    found = []
    for pid in _pids():
        status = _status(pid)
        if not status or status.get("State", "").startswith(("Z", "X")):
            continue
        if (uid is not None and status.get("Uid", "").split("\t")[0] == str(uid)) or \
                (namespace is not None and _pid_namespace(pid) == namespace):
            found.append(int(pid))
    return found


def kill_all(km: Any, timeout: float = KILL_TIMEOUT_S) -> bool:
    """SIGKILL everything a kernel manager's kernel started and wait for it; return True when nothing is left.

    Sandboxed: bwrap's process group, then the namespace's init, then every process in the sandbox's PID namespace
    or running as its uid, until none is alive. Not sandboxed: the kernel's process group only (a ``setsid``
    daemon escapes it; that is one reason to grade untrusted submissions in the sandbox). Safe to call twice.
    """
    provisioner = getattr(km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    if process is not None and process.poll() is None:  # unreaped, so its pid and group cannot be reused yet
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the launcher started it as a session (and group) leader
        except OSError:
            process.kill()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    uid, namespace = getattr(km, "sandbox_uid", None), getattr(km, "sandbox_namespace", None)
    child = getattr(km, "sandbox_init_pid", None)
    if child is not None and namespace is not None and _pid_namespace(child) == namespace:
        try:
            os.kill(child, signal.SIGKILL)  # the namespace's init: its death kills every process in it
        except OSError:
            pass
    if uid is None and namespace is None:
        return process is None or process.poll() is not None
    end = time.monotonic() + timeout
    while True:
        left = _sandbox_pids(uid, namespace)
        if not left:
            return True
        if time.monotonic() > end:
            return False
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)


# ---------------------------------------------------------------------------
# A cgroup per sandbox: its CPU share, its processes and its memory together
# ---------------------------------------------------------------------------

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "cnn-sandbox-"


def _maker() -> str:
    """Return this process as its PID namespace's inode and its pid there, which tell a leftover cgroup's maker."""
    try:
        namespace = "".join(ch for ch in os.readlink("/proc/self/ns/pid") if ch.isdigit())
    except OSError:
        namespace = "0"  # no PID namespaces here (and so no cgroups to make either)
    return f"{namespace}-{os.getpid()}"


def cgroup_name() -> str:
    """Return a fresh name for a sandbox's cgroup; it names the process that makes it, so a leftover can be told."""
    return f"{CGROUP_PREFIX}{_maker()}-{uuid.uuid4().hex[:12]}"


def _made_here() -> dict[Path, int]:
    """Return the sandbox cgroups made in this PID namespace (in every hierarchy), each with its maker's pid."""
    if os.geteuid() != 0 or not CGROUP_ROOT.is_dir():
        return {}  # only a root grader makes cgroups
    namespace = _maker().split("-")[0]
    if (CGROUP_ROOT / "cgroup.controllers").exists():  # v2: one hierarchy
        bases = [CGROUP_ROOT]
    else:
        bases = [path for path in CGROUP_ROOT.iterdir() if (path / "cgroup.procs").exists()]
    found = {}
    for base in bases:
        try:
            paths = [path for path in base.iterdir() if path.name.startswith(CGROUP_PREFIX)]
        except OSError:
            continue
        for path in paths:
            parts = path.name[len(CGROUP_PREFIX):].split("-")
            if len(parts) == 3 and parts[0] == namespace and parts[1].isdigit():
                found[path] = int(parts[1])
    return found


def sweep_cgroups() -> int:
    """Remove the empty sandbox cgroups whose maker is dead (a worker killed at its deadline cannot remove its own).

    A cgroup whose maker lives is left alone (its kernel may be starting), and so is one made in another PID namespace
    (another container on a shared cgroup tree, whose pids this one cannot see); one with processes in it cannot be
    removed (rmdir refuses). Returns how many were removed.
    """
    removed = 0
    for path, maker in _made_here().items():
        if Path(f"/proc/{maker}").exists():
            continue
        try:
            path.rmdir()
            removed += 1
        except OSError:
            pass  # processes still in it
    return removed


def end_cgroups(maker: int, timeout: float = KILL_TIMEOUT_S) -> bool:
    """Kill every process in the cgroups that process ``maker`` (a dead worker) made, wait for them, remove the cgroups.

    The grader calls it after it killed a worker: whatever that worker's sandbox started, daemons and fork bombs
    included, is in its cgroup, so the grade returns only when nothing of the submission runs. True when none is left.
    """
    paths = [path for path, made_by in _made_here().items() if made_by == maker]
    end = time.monotonic() + timeout
    while paths:
        for path in list(paths):
            try:
                pids = [int(pid) for pid in (path / "cgroup.procs").read_text().split()]
            except (OSError, ValueError):
                pids = []
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if not pids:
                try:
                    path.rmdir()
                    paths.remove(path)
                    continue
                except FileNotFoundError:
                    paths.remove(path)
                    continue
                except OSError:
                    pass  # the last ones are still being reaped
        if not paths:
            break
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


class Cgroup:
    """The sandbox's own cgroup, where this machine lets us make one (root, cgroup v1 or v2); else it does nothing.

    Rlimits bound each process; a cgroup bounds the sandbox as a whole: a fork bomb's children share one CPU
    quota (so they cannot starve the other submissions graded at the same time), one process count and one memory
    limit.
    """

    def __init__(self, name: str, limits: Limits) -> None:
        self.paths: list[Path] = []
        wanted = {"pids": {"pids.max": str(limits.processes)}}
        if limits.cpus > 0:
            wanted["cpu"] = {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": str(int(limits.cpus * 100000))}
        wanted["memory"] = {"memory.limit_in_bytes": str(limits.memory_bytes)}
        try:
            if (CGROUP_ROOT / "cgroup.controllers").exists():  # v2: one hierarchy, the files have other names
                path = CGROUP_ROOT / name
                path.mkdir()
                self.paths.append(path)
                v2 = {"pids.max": str(limits.processes), "memory.max": str(limits.memory_bytes)}
                if limits.cpus > 0:
                    v2["cpu.max"] = f"{int(limits.cpus * 100000)} 100000"
                for key, value in v2.items():
                    self._write(path / key, value)
            else:
                for controller, settings in wanted.items():
                    base = CGROUP_ROOT / controller
                    if not (base / "cgroup.procs").exists():
                        continue
                    path = base / name
                    path.mkdir()
                    self.paths.append(path)
                    for key, value in settings.items():
                        self._write(path / key, value)
        except OSError:
            self.remove()  # not allowed here (not root, a read-only cgroupfs): the rlimits still hold
            self.paths = []

    @staticmethod
    def _write(path: Path, value: str) -> None:
        """Write a cgroup setting; a controller that lacks it is left as it is."""
        try:
            path.write_text(value)
        except FileNotFoundError:
            pass

    def entering(self, cmd: list[str]) -> list[str]:
        """Return cmd prefixed so that its first process joins the cgroup before it execs, and so all it starts.

        Moving the processes in after the launch races with them: bwrap's init may fork the kernel between the
        listing of the sandbox's processes and the move, and that kernel would run outside every limit.
        """
        if not self.paths:
            return cmd
        joins = "; ".join(f"echo $$ > {shlex.quote(str(path / 'cgroup.procs'))}" for path in self.paths)
        return ["/bin/sh", "-c", f'{{ {joins}; }} 2>/dev/null; exec "$@"', "sandbox-entry", *cmd]

    def add(self, pids: list[int]) -> None:
        """Move processes (with all their threads) into the cgroup."""
        for path in self.paths:
            for pid in pids:
                try:
                    (path / "cgroup.procs").write_text(str(pid))
                except OSError:
                    pass  # already gone

    def remove(self) -> None:
        """Remove the cgroup (once its processes are dead)."""
        for path in self.paths:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)  # the last processes are still being reaped


# ---------------------------------------------------------------------------
# The kernel manager
# ---------------------------------------------------------------------------


async def _read_info(fd: int, timeout: float) -> dict:
    """Read the JSON bwrap writes to --info-fd (its init's pid outside), or {} on EOF or timeout."""
    import asyncio

    os.set_blocking(fd, False)
    data, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            await asyncio.sleep(0.005)
            continue
        if not chunk:
            break
        data += chunk
        try:
            return json.loads(data)
        except ValueError:
            continue
    return {}


@functools.lru_cache(maxsize=None)
def _manager_class() -> type:
    """Return the AsyncKernelManager subclass (built on first use: the in-sandbox entry must not need jupyter)."""
    from jupyter_client.manager import AsyncKernelManager

    class SandboxKernelManager(AsyncKernelManager):
        """An AsyncKernelManager whose kernel gets a fixed env and cwd and, when configured, runs under bwrap."""

        sandbox_enabled = False
        sandbox_env: dict[str, str] = {}
        sandbox_scratch: Path = Path("/")
        sandbox_readable: list[Path] = []
        sandbox_limits: Limits = Limits()
        sandbox_uid: int | None = None  # the kernel's uid when it differs from ours (grader is root)
        sandbox_gid: int | None = None
        sandbox_init_pid: int | None = None  # bwrap's init (PID 1 inside) as seen from outside
        sandbox_namespace: str | None = None  # its PID namespace, 'pid:[...]'
        sandbox_cgroup: Cgroup | None = None  # its cgroup, when one could be made

        @property
        def kernel_spec(self) -> Any:
            """The kernel spec; sandboxed kernels are interrupted by message (a SIGINT would only kill bwrap)."""
            spec = super().kernel_spec
            if spec is not None and self.sandbox_enabled:
                spec.interrupt_mode = "message"
            return spec

        async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
            """Start with our env and cwd whatever the caller passed (the kernel must not inherit ours)."""
            kw["env"] = dict(self.sandbox_env)
            kw["cwd"] = str(self.sandbox_scratch / "work")
            return await super()._async_pre_start_kernel(**kw)

        def write_connection_file(self, **kwargs: Any) -> None:
            """Write the connection file and let the sandbox's uid read it (it is created 0600)."""
            super().write_connection_file(**kwargs)
            if self.sandbox_uid is not None and os.path.exists(self.connection_file):
                os.chown(self.connection_file, self.sandbox_uid, self.sandbox_gid)

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            """Launch the kernel command inside bwrap through the entry point, and note the sandbox's init."""
            if not self.sandbox_enabled:
                await super()._async_launch_kernel(kernel_cmd, **kw)
                return
            bwrap = shutil.which("bwrap") or "bwrap"
            limits, uid, gid = self.sandbox_limits, self.sandbox_uid, self.sandbox_gid
            if uid is not None:
                _chown_tree(self.sandbox_scratch, uid, gid)  # files the caller made since (env folders, inputs)
            if os.geteuid() == 0:
                sweep_cgroups()
                self.sandbox_cgroup = Cgroup(cgroup_name(), limits)
            read_fd, write_fd = os.pipe()
            try:
                cmd = [*_command(bwrap, self.sandbox_scratch, self.sandbox_readable, limits, uid, gid,
                                 ["--info-fd", str(write_fd)]), *kernel_cmd]
                if self.sandbox_cgroup is not None:
                    cmd = self.sandbox_cgroup.entering(cmd)
                try:
                    await super()._async_launch_kernel(cmd, pass_fds=(write_fd,), **kw)
                finally:
                    os.close(write_fd)
                info = await _read_info(read_fd, INFO_TIMEOUT_S)
            finally:
                os.close(read_fd)
            child = info.get("child-pid")
            if isinstance(child, int):
                self.sandbox_init_pid = child
                self.sandbox_namespace = _pid_namespace(child)
            if self.sandbox_cgroup is not None:  # born inside; this only catches a launch that could not join
                process = getattr(self.provisioner, "process", None)
                self.sandbox_cgroup.add([p for p in [getattr(process, "pid", None)] if p]
                                        + _sandbox_pids(uid, self.sandbox_namespace))

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            """Kill whatever is left of the sandbox (daemons included) before the usual clean-up."""
            kill_all(self)
            if self.sandbox_cgroup is not None:
                self.sandbox_cgroup.remove()
            await super()._async_cleanup_resources(restart=restart)

    return SandboxKernelManager


def kernel_manager(scratch: Path, readable: list[Path], limits: Limits, env: dict[str, str],
                   sandbox: bool = True) -> Any:
    """Return an AsyncKernelManager (for nbclient's NotebookClient(km=...)) whose kernel runs sandboxed.

    ``scratch`` is the only writable folder (created if missing); the kernel's cwd is ``scratch/work``, its
    connection file and ZeroMQ sockets live in ``scratch/runtime``, so keep scratch's path short (a socket path
    holds 107 bytes) and put nothing there the student must not change. ``readable`` paths are visible read-only;
    ``env`` is the kernel's whole environment. The kernel runs the ``python3`` kernel spec. With ``sandbox=False``
    the kernel runs unconfined, with the same env and cwd. Raises RuntimeError when no sandbox can be built here.

    The caller shuts the manager down (``await km.shutdown_kernel(now=True)``; nbclient does so for a manager it
    was given only with ``execute(cleanup_kc=True)`` / ``setup_kernel(cleanup_kc=True)``); its clean-up runs
    ``kill_all``. The manager also carries ``sandbox_uid`` (the kernel's uid when the grader is root, else None)
    and, once started, ``sandbox_init_pid`` and ``sandbox_namespace`` (the sandbox's PID namespace).
    """
    scratch = Path(os.path.abspath(scratch))
    runtime = scratch / "runtime"
    for folder in (scratch / "work", runtime):
        folder.mkdir(parents=True, exist_ok=True)
    readable = [Path(p) for p in readable]
    km = _manager_class()(kernel_name="python3")
    km.sandbox_env, km.sandbox_scratch = dict(env), scratch
    km.sandbox_readable, km.sandbox_limits = readable, limits
    km.connection_file = str(runtime / f"kernel-{uuid.uuid4().hex[:12]}.json")
    if not sandbox:
        return km
    why = unavailable()
    if why:
        raise RuntimeError(why)
    if len(str(runtime / "kernel-99999")) > IPC_PATH_MAX:
        longest = IPC_PATH_MAX - len("/runtime/kernel-99999")
        raise ValueError(f"scratch path too long for ZeroMQ's ipc sockets (at most {longest} characters): {scratch}")
    _filesystem_args(scratch, readable, limits, shutil.which("bwrap") or "bwrap")  # refuse a bad path now
    km.sandbox_enabled = True
    km.transport = "ipc"  # no network in the sandbox: unix sockets in scratch instead of TCP ports
    km.ip = str(runtime / "kernel")
    if os.geteuid() == 0:
        km.sandbox_uid = _free_uid()
        km.sandbox_gid = km.sandbox_uid
    return km


# ---------------------------------------------------------------------------
# Inside the sandbox
# ---------------------------------------------------------------------------


def main(argv: list[str]) -> NoReturn:
    """In-sandbox entry (``python -I -S sandbox.py CONFIG -- CMD...``): limits, drop privileges, exec CMD."""
    try:
        config, separator, cmd = json.loads(argv[0]), argv[1], argv[2:]
        if separator != "--" or not cmd:
            raise ValueError("usage: sandbox.py CONFIG -- COMMAND...")
        limits = config["limits"]
        for name, value in (("RLIMIT_AS", limits["memory_bytes"]), ("RLIMIT_NPROC", config["nproc"]),
                            ("RLIMIT_FSIZE", limits["file_bytes"]), ("RLIMIT_CPU", limits["cpu_seconds"]),
                            ("RLIMIT_CORE", 0)):
            value = int(value)
            resource.setrlimit(getattr(resource, name), (value, value))  # hard = soft: the kernel cannot raise it
        uid, gid = config["uid"], config["gid"]
        if uid is not None:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)  # from root to a plain uid: every capability goes with it
            try:
                os.setuid(0)
            except PermissionError:
                pass
            else:
                raise RuntimeError("could not drop root privileges")
        os.chdir(config["cwd"])
        os.setsid()  # lead a group, as the launcher's kernels do, so an interrupt reaches the kernel's children too
        # ipykernel watches JPY_PARENT_PID and exits when its parent changes; the grader's pid means nothing in here,
        # and the parent here is the namespace's init, pid 1, which ipykernel knows not to watch.
        env = dict(os.environ, JPY_PARENT_PID="1")
        # RLIMIT_AS counts reserved address space, and glibc reserves 64 MiB per malloc arena, up to 8 per core:
        # on a many-core grader TensorFlow's threads alone would reserve gigabytes. A few arenas cost little.
        env.setdefault("MALLOC_ARENA_MAX", "4")
        # No descriptor of the host (bwrap's info pipe, anything leaked) may reach the kernel.
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        os.execve(cmd[0], cmd, env)
    except Exception as exc:  # noqa: BLE001 - any failure ends the sandbox with a line in the kernel's log
        print(f"sandbox entry: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        os._exit(126)


if __name__ == "__main__":
    main(sys.argv[1:])
