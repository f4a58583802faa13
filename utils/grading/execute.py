"""Executing a graded notebook cell by cell in a (sandboxed) kernel, and reading what happened from outside.

nbclient runs each cell with a per-cell timeout (the cell is interrupted and grading goes on) and an overall
deadline. How a cell went is read by the grader from the kernel's reply and the cell's error outputs. After each
graded cell, the grader copies the records its checks wrote out of the sandbox's scratch folder, refusing links,
special files and oversized files, so that nothing the kernel controls can point the grader elsewhere.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any, Callable

from utils.grading.assemble import GRADER_ROLES, META
from utils.grading.text import error_line, one_line

PROBE_TIMEOUT_S = 60  # after a timeout, a kernel that cannot run `pass` within this is stuck (a busy machine is slow)
GRADER_CELL_TIMEOUT_S = 120  # the grader's own cells
TIMEOUT_ENAME = "CellTimeoutError"
MAX_CELL_OUTPUTS = 2_000  # outputs kept per cell while executing (feedback keeps far fewer)
MAX_CELL_CHARS = 5_000_000  # characters of output kept per cell while executing: a flood cannot fill the grader
MAX_RECORD_BYTES = 256 * 2**20  # a graded cell's records (JSON and arrays) are copied out up to this size


def outcome(cell: Any, reply: dict, limit: float | None) -> dict[str, str]:
    """Return how a cell's execution went, read from its reply and outputs by the grader itself."""
    if not cell.source.strip():
        return {"status": "ok", "reason": ""}
    if reply.get("ename") == TIMEOUT_ENAME:
        return {"status": "timeout", "reason": f"timed out after {limit or 0:g} s (interrupted)"}
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        return {"status": "error", "reason": error_line(errors[0])}
    if reply.get("status") != "ok":
        return {"status": "error", "reason": error_line(reply) if reply.get("ename") else "failed without a message"}
    return {"status": "ok", "reason": ""}


def copy_records(scratch: Path, relative: str, destination: Path) -> None:
    """Copy ``scratch/relative``.json/.npz to ``destination``, following no link the kernel could have planted."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".json", ".npz"):
        target = destination.with_name(destination.name + suffix)
        target.unlink(missing_ok=True)
        fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in Path(relative).parent.parts:  # each folder opened without following links
                next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = next_fd
            source = os.open(Path(relative).name + suffix, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except OSError:
            os.close(fd)
            continue  # missing, or a link: the judge reports the records as missing
        os.close(fd)
        try:
            info = os.fstat(source)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_RECORD_BYTES:
                continue
            with open(target, "wb") as out:
                remaining = info.st_size
                while remaining > 0:
                    chunk = os.read(source, min(remaining, 2**20))
                    if not chunk:
                        break
                    out.write(chunk)
                    remaining -= len(chunk)
        finally:
            os.close(source)


def clear_records(scratch: Path, relative: str) -> None:
    """Remove records a graded cell may find before it runs (planted by earlier student code)."""
    for suffix in (".json", ".npz"):
        path = scratch / (relative + suffix)
        try:
            if path.parent.resolve().is_relative_to(scratch.resolve()):
                path.unlink(missing_ok=True)
        except OSError:
            pass


def _bounded_client(base: type) -> type:
    """Return an nbclient class that keeps at most MAX_CELL_OUTPUTS outputs and MAX_CELL_CHARS characters a cell."""

    class BoundedClient(base):  # type: ignore[misc, valid-type]
        """A NotebookClient that drops a cell's output past its bounds and says so once."""

        def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
            """Keep an output only while the cell is within its bounds."""
            sizes = self.__dict__.setdefault("_course_sizes", {})
            size = len(str(msg.get("content", "")))
            count, chars = sizes.get(cell_index, (0, 0))
            sizes[cell_index] = (count + 1, chars + size)
            if count < MAX_CELL_OUTPUTS and chars + size <= MAX_CELL_CHARS:
                return super().output(outs, msg, display_id, cell_index)
            if count == MAX_CELL_OUTPUTS or chars <= MAX_CELL_CHARS < chars + size:
                from nbformat.v4 import new_output

                outs.append(new_output("stream", name="stderr", text="(further output of this cell was dropped)\n"))
            return None

    return BoundedClient


def execute_graded(nb: Any, km: Any, workdir: Path, cell_timeout: float, deadline: float,
                   outcomes: dict[int, dict[str, str]], after_cell: Callable[[int], None] | None = None,
                   before_cell: Callable[[int], None] | None = None, started: Callable[[Any], None] | None = None
                   ) -> None:
    """Execute the graded notebook cell by cell in the kernel ``km`` starts, filling ``outcomes`` by cell index."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError
    from nbformat.v4 import new_code_cell, new_output

    replies: dict[int, dict] = {}
    limits: dict[int, float] = {}

    def limit_for(cell: Any) -> int:
        role = cell.metadata.get(META, {}).get("role")
        cap = PROBE_TIMEOUT_S if role == "probe" else GRADER_CELL_TIMEOUT_S if role in GRADER_ROLES else cell_timeout
        limits[id(cell)] = max(1, int(min(cap, deadline - time.monotonic())))
        return int(limits[id(cell)])

    def executed(cell: Any, execute_reply: dict, **_: Any) -> None:
        content = execute_reply.get("content", {})
        replies[id(cell)] = content
        if content.get("ename") == TIMEOUT_ENAME:
            message = f"the cell ran longer than {limits.get(id(cell), 0):g} s and was interrupted"
            cell.outputs.append(new_output("error", ename=TIMEOUT_ENAME, evalue=message,
                                           traceback=[f"{TIMEOUT_ENAME}: {message}"]))

    client = _bounded_client(NotebookClient)(
        nb, km=km, timeout=int(cell_timeout), timeout_func=limit_for, allow_errors=True,
        interrupt_on_timeout=True, error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "", "traceback": []},
        resources={"metadata": {"path": str(workdir)}}, extra_arguments=["--HistoryManager.hist_file=:memory:"],
        shutdown_kernel="immediate", on_cell_executed=executed, startup_timeout=120, record_timing=False,
    )

    def responsive() -> bool:
        probe = new_code_cell("pass")
        probe.metadata[META] = {"role": "probe"}
        nb.cells.append(probe)  # nbclient writes the executed cell back at its index
        try:
            client.execute_cell(probe, len(nb.cells) - 1, store_history=False)
        except Exception:  # noqa: BLE001 - any failure means the kernel is not usable
            return False
        finally:
            nb.cells.pop()
        return replies.get(id(probe), {}).get("status") == "ok"

    stop = ""
    with client.setup_kernel(cleanup_kc=True):  # nbclient shuts down only kernels it owns, unless asked
        if started is not None:
            started(client.km)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if not stop and deadline - time.monotonic() < 1:
                stop = "not run: the submission's time limit ran out"
            if stop:
                outcomes[index] = {"status": "skipped", "reason": stop}
                continue
            role = cell.metadata.get(META, {}).get("role")
            if before_cell is not None:
                before_cell(index)
            try:
                client.execute_cell(cell, index, store_history=role not in GRADER_ROLES)
                outcomes[index] = outcome(cell, replies.get(id(cell), {}), limits.get(id(cell)))
            except DeadKernelError:
                outcomes[index] = {"status": "died", "reason": "the kernel died while this cell ran"}
                stop = "not run: the kernel died earlier"
            except Exception as exc:  # noqa: BLE001 - a grader-side failure becomes a reason
                outcomes[index] = {"status": "error", "reason": f"grader error: {type(exc).__name__}: {one_line(str(exc))}"}
                stop = "" if responsive() else "not run: the kernel stopped responding"
            if outcomes[index]["status"] == "timeout" and not responsive():
                stop = "not run: the kernel stopped responding after a timeout"
            if after_cell is not None:
                after_cell(index)
