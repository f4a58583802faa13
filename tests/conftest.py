"""Shared test set-up: a hermetic home for Keras, IPython, Jupyter and matplotlib."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def pytest_configure(config: pytest.Config) -> None:
    """Keep every tool's state out of $HOME; notebook kernels inherit these variables."""
    home = Path(tempfile.mkdtemp(prefix="cnn-course-test-home-"))
    for var, sub in (("KERAS_HOME", "keras"), ("IPYTHONDIR", "ipython"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("MPLCONFIGDIR", "matplotlib")):
        os.environ.setdefault(var, str(home / sub))
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The offline copies of the course data (../shared/datasets), or skip."""
    configured = os.environ.get("COURSE_DATA_DIR")
    for candidate in (Path(configured) if configured else None, SHARED_DATASETS):
        if candidate is not None and (candidate / "mnist").is_dir():
            return candidate
    pytest.skip("no offline datasets: set COURSE_DATA_DIR to a folder like ../shared/datasets")


class _Handler(BaseHTTPRequestHandler):
    """Serves self.server.routes: path -> (kind, body); kind 'good' or 'truncated'; else 404."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        kind, body = route
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "truncated":  # promise len(body) bytes, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class LocalServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 for download tests: never the internet."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.requests: list[str] = []

    def url(self, path: str) -> str:
        """The address of ``path`` on this server."""
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def serve(self, path: str, body: bytes, kind: str = "good") -> str:
        """Serve ``body`` at ``path`` (kind 'good' or 'truncated'); return its address."""
        self.routes[path] = (kind, body)
        return self.url(path)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A running LocalServer, shut down after the test."""
    httpd = LocalServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print, per lab, how many wrong answers the exercise checks caught and correct ones they accepted."""
    tally: dict[str, list[int]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, value in getattr(report, "user_properties", []):
                if key != "mutation" or getattr(report, "when", "call") != "call":
                    continue
                lab, should_pass, ok = value
                counts = tally.setdefault(lab, [0, 0, 0, 0])  # wrong caught, wrong, correct accepted, correct
                offset = 2 if should_pass else 0
                counts[offset] += int(ok)
                counts[offset + 1] += 1
    if not tally:
        return
    terminalreporter.section("exercise checks: mutation tests")
    for lab in sorted(tally):
        caught, wrong, accepted, correct = tally[lab]
        terminalreporter.write_line(f"{lab}: wrong caught {caught}/{wrong}, correct accepted {accepted}/{correct}")


@pytest.fixture
def no_open_figures() -> Iterator[None]:
    """Fail a test that leaves a figure registered with pyplot (plots are returned, never left open)."""
    import matplotlib.pyplot as plt

    plt.close("all")
    yield
    assert plt.get_fignums() == []
