"""The grading sandbox (utils.grading.sandbox): a kernel under bubblewrap sees, writes, reaches and keeps nothing else.

These tests start real kernels in real sandboxes (bubblewrap must be installed: ``apt-get install bubblewrap``);
they run as root in CI, where the kernel drops to a per-call uid. Every kernel is shut down, and every process it
started is checked gone, in finally blocks.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

import utils
from utils.grading import sandbox

ROOT = Path(utils.__file__).resolve().parents[1]
LIMITS = sandbox.Limits(memory_bytes=2 * 2**30, processes=128, file_bytes=8 * 2**20, cpu_seconds=600,
                        tmp_bytes=16 * 2**20)


def _env(scratch: Path) -> dict[str, str]:
    """Return a hermetic kernel environment whose writable folders are all inside scratch."""
    home = scratch / "home"
    dirs = {"HOME": home, "TMPDIR": scratch / "tmp", "IPYTHONDIR": home / ".ipython",
            "MPLCONFIGDIR": home / ".matplotlib", "KERAS_HOME": home / ".keras",
            "JUPYTER_RUNTIME_DIR": scratch / "runtime"}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8",
            "PYTHONNOUSERSITE": "1", "TF_CPP_MIN_LOG_LEVEL": "2", **{k: str(v) for k, v in dirs.items()}}


def _marked(marker: str) -> list[int]:
    """Return the host pids whose command line contains marker (and are not zombies)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state not in ("Z", "X"):
            found.append(int(name))
    return found


def _of_uid(uid: int | None) -> list[int]:
    """Return the live host pids running as uid (none when uid is None)."""
    found = []
    for name in os.listdir("/proc") if uid is not None else []:
        if not name.isdigit():
            continue
        try:
            lines = Path(f"/proc/{name}/status").read_text().splitlines()
        except OSError:
            continue
        status = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
        if status.get("Uid", "").split("\t")[0] == str(uid) and not status.get("State", "").startswith(("Z", "X")):
            found.append(int(name))
    return found


def _wait_until(condition: Any, seconds: float) -> bool:
    """Poll condition() until it is true or seconds pass; return its last value."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return bool(condition())
        time.sleep(0.05)
    return True


def _kill(pids: list[int]) -> None:
    """SIGKILL leftover processes (a failing test must not leave them behind)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class Kernel:
    """A sandboxed kernel driven through jupyter_client on a private event loop."""

    def __init__(self, scratch: Path, limits: sandbox.Limits = LIMITS, readable: list[Path] | None = None,
                 use_sandbox: bool = True) -> None:
        """Create the kernel manager (the kernel starts in start())."""
        self.scratch = scratch
        self.km = sandbox.kernel_manager(scratch, readable or [], limits, _env(scratch), sandbox=use_sandbox)
        self.runner = asyncio.Runner()
        self.kc: Any = None

    def start(self) -> Kernel:
        """Start the kernel and wait until it answers."""
        async def go() -> None:
            """Start the kernel and its client."""
            await self.km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"])
            self.kc = self.km.client()
            self.kc.start_channels()
            await self.kc.wait_for_ready(timeout=60)
        self.runner.run(go())
        return self

    def run(self, code: str, timeout: float = 30) -> tuple[str, str, str]:
        """Execute code; return (status, stdout, error name); status 'timeout' when no reply came in time."""
        out: list[str] = []
        error: list[str] = []

        def hook(msg: dict) -> None:
            """Collect stdout and error names."""
            content = msg["content"]
            if msg["header"]["msg_type"] == "stream" and content.get("name") == "stdout":
                out.append(content["text"])
            elif msg["header"]["msg_type"] == "error":
                error.append(content["ename"])

        try:
            reply = self.runner.run(self.kc.execute_interactive(textwrap.dedent(code), timeout=timeout,
                                                                output_hook=hook, allow_stdin=False))
        except TimeoutError:
            return "timeout", "".join(out), ""
        return reply["content"]["status"], "".join(out), "".join(error)

    def json(self, code: str, timeout: float = 30) -> Any:
        """Execute code that prints one JSON line last; return it parsed."""
        status, out, error = self.run(code, timeout)
        assert status == "ok", (status, error, out)
        return json.loads(out.strip().splitlines()[-1])

    def stop(self) -> None:
        """Shut the kernel down as nbclient does (immediately) and close the loop."""
        try:
            if self.kc is not None:
                self.kc.stop_channels()
            self.runner.run(self.km.shutdown_kernel(now=True))
        finally:
            sandbox.kill_all(self.km)
            self.runner.close()


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """One sandboxed kernel (small limits, a readable data folder) shared by the checks that keep it alive."""
    base = tmp_path_factory.mktemp("sbx")
    (base / "data").mkdir()
    (base / "data" / "mnist.npz").write_bytes(b"pixels")
    k = Kernel(base / "scratch", readable=[base / "data"])
    try:
        yield k.start()
    finally:
        k.stop()


def test_kernel_starts_in_sandbox(kernel: Kernel) -> None:
    """The kernel imports numpy and the course package, as an unprivileged uid in its own namespaces."""
    info = kernel.json("""
        import json, os, resource, socket, multiprocessing, numpy, utils, utils.checks
        multiprocessing.Lock()  # a POSIX semaphore: needs a writable /dev/shm
        print(json.dumps({"uid": os.getuid(), "groups": os.getgroups(), "pid": os.getpid(), "host": socket.gethostname(),
                          "cwd": os.getcwd(), "utils": utils.__file__, "pids": sorted(os.listdir("/proc")),
                          "as": resource.getrlimit(resource.RLIMIT_AS), "nproc": resource.getrlimit(resource.RLIMIT_NPROC),
                          "fsize": resource.getrlimit(resource.RLIMIT_FSIZE), "core": resource.getrlimit(resource.RLIMIT_CORE),
                          "cpu": resource.getrlimit(resource.RLIMIT_CPU), "home": os.environ["HOME"]}))
    """)
    assert info["utils"] == str(ROOT / "utils" / "__init__.py")
    assert info["cwd"] == str(kernel.scratch / "work")
    assert info["home"] == str(kernel.scratch / "home")
    assert info["host"] == "sandbox" and info["pid"] < 10
    if os.geteuid() == 0:
        assert info["uid"] == kernel.km.sandbox_uid and 200000 <= info["uid"] < 260000 and info["groups"] == []
        assert info["nproc"] == [LIMITS.processes] * 2
    assert info["as"] == [LIMITS.memory_bytes] * 2 and info["fsize"] == [LIMITS.file_bytes] * 2
    assert info["core"] == [0, 0] and info["cpu"] == [LIMITS.cpu_seconds] * 2


def test_filesystem_is_an_allowlist(kernel: Kernel) -> None:
    """Solutions, .git and other files are invisible; only scratch (and the small /tmp) can be written."""
    secret = kernel.scratch.parent / "secret.txt"
    secret.write_text("the answers")
    probe = {"solutions": str(ROOT / "solutions"), "git": str(ROOT / ".git"), "secret": str(secret),
             "build": str(ROOT / "build"), "pyproject": str(ROOT / "pyproject.toml")}
    data = kernel.scratch.parent / "data" / "mnist.npz"
    result = kernel.json(f"""
        import json, os
        from pathlib import Path
        probe = {probe!r}
        seen = {{name: os.path.exists(path) for name, path in probe.items()}}
        def writes(path, mode="a"):
            try:
                with open(path, mode) as f:
                    f.write("x")
                return True
            except OSError as exc:
                return exc.__class__.__name__
        seen["write_checks"] = writes({str(ROOT / "utils" / "checks.py")!r})
        seen["write_root"] = writes({str(ROOT / "planted.txt")!r}, "w")
        seen["write_etc"] = writes("/etc/planted", "w")
        seen["read_data"] = Path({str(data)!r}).read_text()
        seen["write_data"] = writes({str(data)!r})
        seen["write_scratch"] = writes({str(kernel.scratch / "work" / "out.txt")!r}, "w")
        seen["write_tmp"] = writes("/tmp/out.txt", "w")
        seen["root_listing"] = sorted(os.listdir({str(ROOT)!r}))
        print(json.dumps(seen))
    """)
    assert not any(result[name] for name in probe), result
    assert result["write_checks"] in ("OSError", "PermissionError")
    assert result["write_root"] in ("OSError", "PermissionError") and not (ROOT / "planted.txt").exists()
    assert result["write_etc"] in ("OSError", "PermissionError")
    assert result["read_data"] == "pixels" and result["write_data"] in ("OSError", "PermissionError")
    assert result["write_scratch"] is True and (kernel.scratch / "work" / "out.txt").read_text() == "x"
    assert result["write_tmp"] is True and not Path("/tmp/out.txt").exists()
    assert set(result["root_listing"]) <= {"utils", ".venv"}, result["root_listing"]


def test_no_network(kernel: Kernel) -> None:
    """A TCP server on the host's loopback cannot be reached from the kernel."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        result = kernel.json(f"""
            import json, socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
                outcome = "connected"
            except OSError as exc:
                outcome = type(exc).__name__
            print(json.dumps(outcome))
        """)
        assert result != "connected"
        with pytest.raises(BlockingIOError):
            server.accept()


def test_file_size_limit(kernel: Kernel) -> None:
    """Writing past file_bytes fails with EFBIG inside the kernel (the kernel survives)."""
    result = kernel.json(f"""
        import errno, json
        try:
            with open("big.bin", "wb") as f:
                f.write(bytes({LIMITS.file_bytes} + 4096))
            outcome = "written"
        except OSError as exc:
            outcome = errno.errorcode.get(exc.errno, str(exc.errno))
        print(json.dumps(outcome))
    """)
    assert result == "EFBIG"
    assert (kernel.scratch / "work" / "big.bin").stat().st_size <= LIMITS.file_bytes


def test_memory_bombs_fail_fast(kernel: Kernel) -> None:
    """A huge allocation and a gradual one end in MemoryError quickly; the kernel never exceeds the limit."""
    started = time.monotonic()
    status, _, error = kernel.run("x = bytearray(20 * 2**30)")
    assert (status, error) == ("error", "MemoryError")
    status, _, error = kernel.run("""
        chunks = []
        while True:
            chunks.append(bytearray(100 * 2**20))
    """)
    assert (status, error) == ("error", "MemoryError")
    peak = kernel.json("""
        import json
        del chunks
        print(json.dumps(int(next(l for l in open("/proc/self/status") if l.startswith("VmPeak")).split()[1]) * 1024))
    """)
    assert peak <= LIMITS.memory_bytes
    assert time.monotonic() - started < 30


def test_interrupt_reaches_sandboxed_kernel(kernel: Kernel) -> None:
    """An interrupt (what nbclient sends at a cell timeout) stops the running cell, not the sandbox."""
    async def interrupt_later() -> None:
        """Interrupt the kernel once the cell is surely running."""
        await asyncio.sleep(1.0)
        await kernel.km.interrupt_kernel()

    async def both() -> dict:
        """Run the sleeping cell while the interrupt comes; return its reply."""
        task = asyncio.ensure_future(interrupt_later())
        reply = await kernel.kc.execute_interactive("import time; time.sleep(30)", timeout=20)
        await task
        return reply

    started = time.monotonic()
    reply = kernel.runner.run(both())
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - started < 10
    assert kernel.json("print(1 + 1)") == 2


def test_fork_bombs_are_contained(tmp_path: Path) -> None:
    """Popen in a loop and a self-replicating fork bomb hit the process limit; shutdown leaves nothing alive."""
    marker = f"60.{uuid.uuid4().int % 10**12:012d}"  # GNU sleep takes "60.<digits>": a unique, cheap marker
    k = Kernel(tmp_path / "s", sandbox.Limits(memory_bytes=2 * 2**30, processes=64, cpu_seconds=120))
    try:
        k.start()
        popen = k.json(f"""
            import json, subprocess
            procs = []
            try:
                while True:
                    procs.append(subprocess.Popen(["sleep", {marker!r}]))
            except OSError as exc:
                outcome = [type(exc).__name__, len(procs)]
            print(json.dumps(outcome))
        """)
        assert popen[0] in ("BlockingIOError", "OSError") and 10 < popen[1] < 64, popen
        assert len(_marked(marker)) == popen[1]
        status, out, error = k.run("""
            import os, time, json
            for p in procs:
                p.kill(); p.wait()
            forked = 0
            try:
                while True:
                    if os.fork() == 0:
                        try:  # every child forks forever too, and never returns into the kernel
                            while True:
                                try:
                                    os.fork()
                                except OSError:
                                    time.sleep(0.05)
                        finally:
                            os._exit(0)
                    forked += 1
            except OSError as exc:
                print(json.dumps([type(exc).__name__, forked]))
        """, timeout=30)
        assert status in ("ok", "error", "timeout"), status
        if status == "ok":
            assert json.loads(out.strip().splitlines()[-1])[0] in ("BlockingIOError", "OSError")
        uid = k.km.sandbox_uid
        assert uid is None or 0 < len(_of_uid(uid)) <= 64
    finally:
        k.stop()
    try:
        assert _wait_until(lambda: not _marked(marker) and not _of_uid(k.km.sandbox_uid), 5)
        assert not _marked(str(k.scratch))  # forked copies of the kernel carry its connection file's path
    finally:
        _kill(_marked(marker) + _marked(str(k.scratch)) + _of_uid(k.km.sandbox_uid))


DAEMON = """
    import os, sys
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", {marker!r}])
        os._exit(0)
    os.wait()
    print("started")
"""


def test_setsid_daemon_dies_with_nbclient_shutdown(tmp_path: Path) -> None:
    """A double-forked setsid daemon is gone once nbclient has shut the kernel down ("immediate")."""
    import nbformat
    from nbclient import NotebookClient

    marker = f"daemon-{uuid.uuid4().hex}"
    scratch = tmp_path / "s"
    km = sandbox.kernel_manager(scratch, [], LIMITS, _env(scratch))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(DAEMON.format(marker=marker))),
                                         nbformat.v4.new_code_cell("import os; print(os.getcwd())")])
    alive: list[int] = []

    def executed(cell: Any, **_: Any) -> None:
        """Note the daemon's pids after the first cell."""
        if not alive:  # the daemon execs its marked command line a moment after the cell returns
            _wait_until(lambda: bool(_marked(marker)), 5)
            alive.extend(_marked(marker))

    client = NotebookClient(nb, km=km, timeout=30, allow_errors=True, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(scratch / "work")}}, on_cell_executed=executed,
                            extra_arguments=["--HistoryManager.hist_file=:memory:"])
    try:
        client.execute(cleanup_kc=True)  # nbclient leaves a km it was given running unless told otherwise
        assert "started" in nb.cells[0].outputs[0]["text"]
        assert nb.cells[1].outputs[0]["text"].strip() == str(scratch / "work")
        assert alive, "the daemon never ran"
        assert _wait_until(lambda: not _marked(marker), 5), "the daemon outlived the kernel"
        assert not _of_uid(km.sandbox_uid)
    finally:
        sandbox.kill_all(km)
        _kill(_marked(marker))


def test_daemon_dies_when_kernel_dies(tmp_path: Path) -> None:
    """When the kernel itself dies, its sandbox and the daemon it started die too."""
    marker = f"orphan-{uuid.uuid4().hex}"
    k = Kernel(tmp_path / "s")
    try:
        k.start()
        assert "started" in k.run(DAEMON.format(marker=marker))[1]
        assert _wait_until(lambda: bool(_marked(marker)), 10), "the daemon did not start"  # a busy machine is slow
        k.run("import os; os._exit(3)", timeout=1)
        assert _wait_until(lambda: not _marked(marker), 5), "the daemon outlived the kernel"
    finally:
        k.stop()
        _kill(_marked(marker))


PARENT = """
import asyncio, sys
from pathlib import Path
from utils.grading import sandbox
sys.path.insert(0, {tests!r})
from test_sandbox import LIMITS, _env

async def main() -> None:
    scratch = Path({scratch!r})
    km = sandbox.kernel_manager(scratch, [], LIMITS, _env(scratch))
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    await kc.execute_interactive({code!r}, timeout=30)
    print("READY", km.provisioner.pid, km.sandbox_uid, flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


def test_everything_dies_when_the_parent_is_killed(tmp_path: Path) -> None:
    """SIGKILL of the process that owns bwrap (a grading worker) kills bwrap, the kernel and a setsid daemon."""
    marker = f"parent-{uuid.uuid4().hex}"
    script = PARENT.format(tests=str(Path(__file__).parent), scratch=str(tmp_path / "s"),
                           code=textwrap.dedent(DAEMON.format(marker=marker)))
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=str(ROOT), stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)), start_new_session=True)
    bwrap = uid = None
    try:
        line = ""
        for line in parent.stdout or []:  # the kernel shares this stdout: skip whatever it prints
            if line.startswith("READY"):
                break
        assert line.startswith("READY"), f"the parent did not start its kernel: {line!r}"
        bwrap, uid = int(line.split()[1]), (None if line.split()[2] == "None" else int(line.split()[2]))
        assert _wait_until(lambda: bool(_marked(marker)), 10) and Path(f"/proc/{bwrap}").exists()
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert _wait_until(lambda: not _marked(marker), 5), "the daemon outlived its grader"
        assert _wait_until(lambda: not Path(f"/proc/{bwrap}").exists(), 5), "bwrap outlived its parent"
        assert _wait_until(lambda: not _of_uid(uid), 5)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        _kill(_marked(marker) + _of_uid(uid) + _marked(str(tmp_path / "s")))  # bwrap's and the kernel's lines name it
        assert sandbox.end_cgroups(parent.pid)  # as the grader does for a killed worker: its cgroup goes too


def test_no_sandbox_keeps_env_and_cwd(tmp_path: Path) -> None:
    """--no-sandbox: a plain kernel with the same env and cwd, as the grader's own user."""
    k = Kernel(tmp_path / "s", use_sandbox=False)
    try:
        info = k.start().json("""
            import json, os
            print(json.dumps([os.getcwd(), os.environ["HOME"], os.getuid(), os.path.exists(os.environ["PYTHONPATH"] + "/solutions")]))
        """)
        assert info[:3] == [str(k.scratch / "work"), str(k.scratch / "home"), os.getuid()]
    finally:
        k.stop()


def test_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """unavailable() is '' where bwrap works, and a paragraph naming bubblewrap where bwrap is not installed."""
    sandbox.unavailable.cache_clear()
    try:
        assert sandbox.unavailable() == ""
        monkeypatch.setenv("PATH", str(tmp_path))
        sandbox.unavailable.cache_clear()
        why = sandbox.unavailable()
        assert "bubblewrap" in why and "apt-get install bubblewrap" in why
        with pytest.raises(RuntimeError, match="bubblewrap"):
            sandbox.kernel_manager(tmp_path / "s", [], LIMITS, {})
    finally:
        monkeypatch.undo()
        sandbox.unavailable.cache_clear()


def test_repository_is_never_readable(tmp_path: Path) -> None:
    """A readable path that holds the repository (and so its solutions) is refused before any kernel starts."""
    for path in (ROOT, ROOT.parent):
        with pytest.raises(ValueError, match="repository"):
            sandbox.kernel_manager(tmp_path / "s", [path], LIMITS, {})


def _cgroups_of(pid: int) -> set[str]:
    """Return the cgroup paths a process sits in (one per hierarchy), as /proc/PID/cgroup lists them."""
    return {line.split(":", 2)[2] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()}


def test_a_launched_command_is_in_the_cgroup_from_its_first_instruction() -> None:
    """The launch joins the cgroup before exec, so nothing it forks can be born outside (no race with a later move)."""
    if os.geteuid() != 0:
        pytest.skip("cgroups are made by a root grader only")
    cgroup = sandbox.Cgroup(sandbox.cgroup_name(), sandbox.Limits(
        memory_bytes=LIMITS.memory_bytes, processes=LIMITS.processes, cpus=0.5))
    try:
        assert cgroup.paths, "no cgroup could be made here"
        # The child's own first act is to fork; the grandchild reports where it was born.
        out = subprocess.run(cgroup.entering(["/bin/sh", "-c", "sh -c 'cat /proc/$$/cgroup'"]),
                             capture_output=True, text=True, timeout=30, check=True).stdout
        where = {line.split(":", 2)[2] for line in out.splitlines()}
        assert where >= {f"/{path.name}" for path in cgroup.paths}, out
    finally:
        cgroup.remove()
    assert all(not path.exists() for path in cgroup.paths)


def test_a_cgroup_left_by_a_dead_maker_is_swept_and_a_living_makers_is_not() -> None:
    """A worker killed at its deadline leaves its (empty) cgroup; the next sweep removes it, never a live one's."""
    if os.geteuid() != 0:
        pytest.skip("cgroups are made by a root grader only")
    dead = subprocess.Popen(["true"])
    dead.wait()
    limits = sandbox.Limits(memory_bytes=LIMITS.memory_bytes, processes=LIMITS.processes, cpus=0.5)
    namespace = sandbox.cgroup_name().split("-")[2]
    left = sandbox.Cgroup(f"{sandbox.CGROUP_PREFIX}{namespace}-{dead.pid}-{uuid.uuid4().hex[:12]}", limits)
    mine = sandbox.Cgroup(sandbox.cgroup_name(), limits)
    # Made by the same (dead) pid in another PID namespace: not this machine's to judge.
    foreign = sandbox.Cgroup(f"{sandbox.CGROUP_PREFIX}1{namespace}-{dead.pid}-{uuid.uuid4().hex[:12]}", limits)
    try:
        assert left.paths and mine.paths and foreign.paths, "no cgroup could be made here"
        assert sandbox.sweep_cgroups() >= len(left.paths)
        assert not any(path.exists() for path in left.paths)
        assert all(path.exists() for path in mine.paths + foreign.paths)
    finally:
        for cgroup in (left, mine, foreign):
            cgroup.remove()


def test_ending_a_dead_workers_cgroups_kills_all_it_started_and_removes_them() -> None:
    """What a killed worker's sandbox left running (a setsid daemon too) is killed and waited for by the grader."""
    if os.geteuid() != 0:
        pytest.skip("cgroups are made by a root grader only")
    worker = subprocess.Popen(["true"])
    worker.wait()
    namespace = sandbox.cgroup_name().split("-")[2]
    limits = sandbox.Limits(memory_bytes=LIMITS.memory_bytes, processes=LIMITS.processes, cpus=0.5)
    cgroup = sandbox.Cgroup(f"{sandbox.CGROUP_PREFIX}{namespace}-{worker.pid}-{uuid.uuid4().hex[:12]}", limits)
    other = sandbox.Cgroup(sandbox.cgroup_name(), limits)  # another (living) worker's: left alone
    left = subprocess.Popen(cgroup.entering(["/bin/sh", "-c", "setsid sleep 300 & exec sleep 300"]))
    try:
        assert cgroup.paths and other.paths, "no cgroup could be made here"
        assert _wait_until(lambda: len((cgroup.paths[0] / "cgroup.procs").read_text().split()) == 2, 10)
        started = [int(pid) for pid in (cgroup.paths[0] / "cgroup.procs").read_text().split()]
        assert sandbox.end_cgroups(worker.pid)
        left.wait(timeout=10)
        assert not any(Path(f"/proc/{pid}").exists() and _status_of(pid) != "Z" for pid in started)
        assert not any(path.exists() for path in cgroup.paths)
        assert all(path.exists() for path in other.paths)
    finally:
        left.kill()
        left.wait()
        cgroup.remove()
        other.remove()


def _status_of(pid: int) -> str:
    """Return a process's state letter ('' when it is gone)."""
    try:
        return next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("State:"))
    except (OSError, StopIteration):
        return ""


def test_the_sweep_is_a_no_op_where_no_cgroups_are_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without root, or without PID namespaces (macOS under --no-sandbox), the grader's sweep does nothing, quietly."""
    def no_namespaces(path: str) -> str:
        raise FileNotFoundError(path)

    monkeypatch.setattr(sandbox.os, "readlink", no_namespaces)
    assert sandbox.cgroup_name().startswith(f"{sandbox.CGROUP_PREFIX}0-{os.getpid()}-")
    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    assert sandbox.sweep_cgroups() == 0 and sandbox.end_cgroups(os.getpid())


def test_the_sandbox_shares_one_cgroup_and_cpu_quota(tmp_path: Path) -> None:
    """As root, every process of a sandbox sits in its own cgroup: one CPU quota, process count and memory limit."""
    if os.geteuid() != 0:
        pytest.skip("cgroups are made by a root grader only")
    limits = sandbox.Limits(memory_bytes=LIMITS.memory_bytes, processes=LIMITS.processes, cpus=0.5)
    k = Kernel(tmp_path / "s", limits=limits).start()  # short: ZeroMQ ipc paths have at most 107 bytes
    try:
        cgroup = k.km.sandbox_cgroup
        assert cgroup is not None and cgroup.paths, "no cgroup could be made here"
        for pid in sandbox._sandbox_pids(k.km.sandbox_uid, k.km.sandbox_namespace):  # the kernel included
            assert _cgroups_of(pid) >= {f"/{path.name}" for path in cgroup.paths}, pid
        # Four busy processes for two seconds get about one second of CPU in all (a quota of half a core).
        info = k.json("""
            import json, os, time
            start = time.time()
            children = []
            for _ in range(4):
                pid = os.fork()
                if pid == 0:
                    while time.time() - start < 2.0:
                        pass
                    os._exit(0)
                children.append(pid)
            used = 0.0
            for pid in children:
                _, status, usage = os.wait4(pid, 0)
                used += usage.ru_utime + usage.ru_stime
            print(json.dumps({"cpu": used, "wall": time.time() - start}))
        """, timeout=60)
        assert info["cpu"] <= 0.5 * info["wall"] * 1.5 + 0.3, info
    finally:
        k.stop()
    assert all(not path.exists() for path in cgroup.paths)  # removed with the sandbox
