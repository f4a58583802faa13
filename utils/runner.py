"""Execute notebooks headless, export them, and summarise each run's status, time and headline metric."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from utils.checks import METRICS_MIME
from utils.labs import NOTEBOOKS, ROOT, SOLUTIONS

BUILD = ROOT / "build"
CELL_TIMEOUT_S = 1800


@dataclass
class RunResult:
    """The outcome of executing one notebook."""

    notebook: str
    status: str
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    cpu_seconds: float | None = None  # the kernel's user + system time; None where the OS cannot tell
    finished: str = ""  # when the run ended, ISO 8601 with the time zone
    machine: str = ""  # what ran it (see describe_machine)

    def headline(self) -> str:
        """Return the recorded headline metrics as 'name value' pairs."""
        return "; ".join(f"{k} {v:.4g}" for k, v in self.metrics.items())


def describe_machine() -> str:
    """Return the machine in one line: CPU model and cores, operating system, and GPUs where nvidia-smi lists any."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text(errors="replace").splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    parts = [f"{cpu}, {os.cpu_count()} cores", f"{platform.system()} {platform.release()}"]
    if shutil.which("nvidia-smi"):
        listed = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                text=True, check=False, timeout=30)
        gpus = [line.strip() for line in listed.stdout.splitlines() if line.strip()]
        parts.append("GPU: " + ", ".join(gpus) if gpus else "no GPU")
    else:
        parts.append("no GPU")
    return "; ".join(parts)


def find_notebooks(names: list[str] | None = None) -> list[Path]:
    """Return the runnable notebooks: all solutions and companions, or those matching names."""
    candidates = sorted(SOLUTIONS.glob("*.ipynb")) + sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return candidates
    chosen: list[Path] = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            chosen.append(path.resolve())
            continue
        matches = [p for p in candidates if p.stem.startswith(name) or name in p.stem]
        if not matches:
            known = ", ".join(p.stem for p in candidates)
            raise FileNotFoundError(f"No notebook matches '{name}'; known notebooks: {known}.")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def collect_metrics(nb: NotebookNode) -> dict[str, float]:
    """Return the headline metrics that check cells published (see checks.record_metric)."""
    metrics: dict[str, float] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if METRICS_MIME in data:
                value = data[METRICS_MIME]
                metrics.update(json.loads(value) if isinstance(value, str) else value)
    return metrics


def _error_summary(nb: NotebookNode) -> str:
    """Return the first error output of an executed notebook as one line."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {index}: {output.get('ename')}: {' '.join(str(output.get('evalue')).split())[:200]}"
    return ""


def children_cpu_seconds() -> float | None:
    """Return the user + system CPU time of this process's finished, reaped children (None without ``resource``)."""
    try:
        import resource
    except ImportError:  # Windows has no getrusage
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute(path: Path, out_dir: Path, cell_timeout: int = CELL_TIMEOUT_S, progress: bool = True) -> RunResult:
    """Execute one notebook in a fresh kernel, save it and its HTML export, return the result."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    nb = nbformat.read(str(path), as_version=4)
    code_cells = sum(cell.cell_type == "code" for cell in nb.cells)
    bar = tqdm(total=code_cells, desc=path.stem, unit="cell", disable=not progress, leave=True)

    def advance(cell: NotebookNode, **_: object) -> None:
        if cell.cell_type == "code":
            bar.update(1)

    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_executed=advance,
    )
    start, cpu_start = time.perf_counter(), children_cpu_seconds()
    status, error = "passed", ""
    try:
        client.execute()
    except CellTimeoutError:
        status = "timeout"
    except (CellExecutionError, DeadKernelError):
        status = "failed"
    except Exception as exc:  # noqa: BLE001 - a summary row beats a crashed run
        status, error = "error", f"{type(exc).__name__}: {exc}"
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    # The kernel is reaped when execute() shuts it down, so its CPU time (threads and subprocesses included) is
    # now in this process's children's usage: what a laptop with fewer cores would have to spend.
    cpu_end = children_cpu_seconds()
    cpu = None if cpu_start is None or cpu_end is None else round(cpu_end - cpu_start, 1)
    error = error or _error_summary(nb)
    save(nb, path.stem, out_dir)
    return RunResult(path.stem, status, round(seconds, 1), collect_metrics(nb), error, cpu,
                     time.strftime("%Y-%m-%dT%H:%M:%S%z"), describe_machine())


def save(nb: NotebookNode, stem: str, out_dir: Path) -> None:
    """Write an executed notebook and its HTML export under ``out_dir``."""
    from nbconvert import HTMLExporter

    (out_dir / "executed").mkdir(parents=True, exist_ok=True)
    (out_dir / "html").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out_dir / "executed" / f"{stem}.ipynb"))
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out_dir / "html" / f"{stem}.html").write_text(html, encoding="utf-8")


def format_table(results: list[RunResult], profile: str) -> str:
    """Return the run summary as an aligned text table."""
    header = ("notebook", "status", "wall time", "CPU time", "headline metrics")
    rows = [(r.notebook, r.status, f"{r.seconds:.1f} s", "-" if r.cpu_seconds is None else f"{r.cpu_seconds:.1f} s",
             r.headline() or "-") for r in results]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = "  ".join("-" * w for w in widths)
    fmt = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()  # noqa: E731
    lines = [f"Profile: {profile}", fmt(header), line, *map(fmt, rows)]
    lines += [f"  {r.notebook}: {r.error}" for r in results if r.error and r.status != "passed"]
    return "\n".join(lines)


def run(names: list[str] | None = None, profile: str | None = None, out_dir: Path = BUILD) -> list[RunResult]:
    """Execute the chosen notebooks in a profile, print the summary, write build/summary.json."""
    from utils.profiles import get_profile

    if profile:
        os.environ["COURSE_PROFILE"] = profile
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    active = get_profile()
    os.environ["COURSE_PROFILE"] = active.name  # kernels inherit it
    paths = find_notebooks(names)
    print(f"{active}\nExecuting {len(paths)} notebook(s); outputs go to {out_dir}/")
    results = [execute(path, out_dir) for path in paths]
    print(format_table(results, active.name))
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"profile": active.name, "results": [asdict(r) for r in results]}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    merge_summary(out_dir / f"summary-{active.name}.json", summary)
    return results


def merge_summary(path: Path, summary: dict) -> None:
    """Update a per-profile summary file with this run's results, keeping other notebooks' rows."""
    previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"results": []}
    rows = {row["notebook"]: row for row in previous["results"]}
    rows.update({row["notebook"]: row for row in summary["results"]})
    merged = {"profile": summary["profile"], "results": [rows[name] for name in sorted(rows)]}
    path.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
