"""The student's JupyterLab after `make setup`: nbgrader's instructor interface is switched off in the course environment.

The test starts a real JupyterLab server on 127.0.0.1 with the course environment's configuration (the venv's
etc/jupyter, never the user's ~/.jupyter) and asks it, over HTTP, which lab plugins it disables and which nbgrader
server routes it serves. `make setup-instructor` turns the instructor parts back on (and this test then fails, by
design: it describes the students' environment).
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each part of nbgrader 0.9 shows in JupyterLab / serves, and why students do not get it.
INSTRUCTOR_LAB_PLUGINS = {
    "@jupyter/nbgrader:menu": "the 'Nbgrader' main menu (Formgrader, Course List, Assignment List, Create assignment)",
    "@jupyter/nbgrader:formgrader": "the Formgrader tab (instructor grading)",
    "@jupyter/nbgrader:create-assignment": "the 'Create Assignment' side panel (instructor cell metadata)",
    "@jupyter/nbgrader:course-list": "the Course List (nbgrader exchange; this course grades with `make grade`)",
    "@jupyter/nbgrader:assignment-list": "the Assignment List (nbgrader exchange fetch/submit; not used here)",
    "@jupyter/nbgrader:validate-assignment": "the notebook toolbar's Validate button (see README: blocks the server)",
}
# Each server extension and one route it serves: 404 once the extension is disabled.
INSTRUCTOR_SERVER_ROUTES = {
    "nbgrader.server_extensions.formgrader": "/formgrader",
    "nbgrader.server_extensions.course_list": "/formgraders",
    "nbgrader.server_extensions.assignment_list": "/assignments",
    "nbgrader.server_extensions.validate_assignment": "/assignments/validate",
}
STARTUP_TIMEOUT_S = 45.0
SCREENSHOT = ROOT / "build" / "book" / "screenshots" / "jupyterlab-student-lab.png"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jupyterlab") is None or importlib.util.find_spec("nbgrader") is None,
    reason="JupyterLab or nbgrader is not installed in this environment")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab server: base URL, token, and the log it wrote."""

    def __init__(self, url: str, token: str, log: Path) -> None:
        self.url, self.token, self.log = url, token, log

    def get(self, path: str) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, f"GET {path}: HTTP {status}"
        return json.loads(body)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("jupyter-student")
    log = tmp / "server.log"
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    # The course environment only: an empty user config dir, so ~/.jupyter can neither hide nor cause a failure.
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "user-config"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTER_DATA_DIR=str(tmp / "user-data"))
    env.pop("JUPYTER_CONFIG_PATH", None)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Lab(f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if server.get("/api/status")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within {STARTUP_TIMEOUT_S:g} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _page_config(lab: Lab) -> dict[str, Any]:
    """The page configuration the server hands to the JupyterLab front end (which plugins it must not start)."""
    status, page = lab.get("/lab")
    assert status == 200, f"GET /lab: HTTP {status}"
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
    assert match, "no jupyter-config-data in the /lab page"
    return json.loads(html.unescape(match.group(1)))


def test_instructor_lab_plugins_are_disabled_and_locked(lab: Lab) -> None:
    config = _page_config(lab)
    disabled = set(config.get("disabledExtensions", []))
    missing = {plugin: what for plugin, what in INSTRUCTOR_LAB_PLUGINS.items() if plugin not in disabled}
    assert not missing, ("students' JupyterLab still starts nbgrader's instructor plugins (`make setup-student` switches them off): "
                         + "; ".join(f"{p} = {w}" for p, w in missing.items()))
    locked = set(config.get("lockedExtensions", []))
    assert set(INSTRUCTOR_LAB_PLUGINS) <= locked, "the instructor plugins can be re-enabled from the Plugin Manager"


def test_student_lab_extensions_stay_enabled(lab: Lab) -> None:
    config = _page_config(lab)
    disabled = set(config.get("disabledExtensions", []))
    assert disabled <= set(INSTRUCTOR_LAB_PLUGINS), f"more than nbgrader's instructor parts is off: {sorted(disabled)}"
    federated = {ext["name"] for ext in config.get("federated_extensions", [])}
    # ipywidgets (Keras/tqdm progress, interactive plots) must keep working for students.
    assert "@jupyter-widgets/jupyterlab-manager" in federated, sorted(federated)
    packages = {ext["name"]: ext for ext in lab.json("/lab/api/extensions")}
    widgets = next((ext for name, ext in packages.items() if "jupyterlab-manager" in name), None)
    assert widgets is not None and widgets["enabled"], sorted(packages)


def test_instructor_server_extensions_are_off(lab: Lab) -> None:
    served = {ext: route for ext, route in INSTRUCTOR_SERVER_ROUTES.items() if lab.get(route)[0] != 404}
    assert not served, f"the server still serves nbgrader's instructor routes (`make setup-student` switches them off): {served}"


def test_student_kernel_and_labs_are_served(lab: Lab) -> None:
    specs = lab.json("/api/kernelspecs")["kernelspecs"]
    assert "python3" in specs, sorted(specs)
    assert specs["python3"]["spec"]["display_name"] == "Python 3 (cnn-course)", specs["python3"]["spec"]
    labs = {item["name"] for item in lab.json("/api/contents/labs")["content"]}
    assert any(name.endswith(".ipynb") for name in labs), sorted(labs)


def test_no_nbgrader_config_warning_at_start(lab: Lab) -> None:
    lab.get("/lab")  # the server has started every enabled extension by now
    log = lab.log.read_text()
    assert "No nbgrader_config.py file found" not in log, log[-3000:]
    assert "nbgrader" not in log.lower(), [line for line in log.splitlines() if "nbgrader" in line.lower()]


def test_student_opens_a_lab_without_the_nbgrader_menu(lab: Lab) -> None:
    """Lab 2 opened in JupyterLab in headless Chromium: its menu bar has no Nbgrader menu; a screenshot is saved."""
    import shutil

    from utils.book.browser import BROWSERS, DRIVERS, chromium

    if importlib.util.find_spec("selenium") is None or not any(map(shutil.which, BROWSERS)) or not any(map(shutil.which, DRIVERS)):
        message = "headless Chromium or Selenium is missing: run `make setup`"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium() as driver:
        driver.get(f"{lab.url}/lab/tree/labs/02_convolution.ipynb?token={lab.token}")
        wait = WebDriverWait(driver, STARTUP_TIMEOUT_S)
        wait.until(expected_conditions.visibility_of_element_located(
            (By.XPATH, "//div[contains(@class, 'jp-NotebookPanel')]//h1[contains(., 'Lab 2')]")))
        wait.until(lambda d: "Idle" in d.find_element(By.ID, "jp-main-statusbar").text)
        for button in driver.find_elements(By.XPATH, "//div[contains(@class, 'Toastify')]//button[.='No']"):
            button.click()  # JupyterLab's one-time question about news, which would cover the notebook
        menus = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel")]
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOT))
    for kernel in lab.json("/api/kernels"):  # the notebook started one: shut it down, or the server waits for it
        request = urllib.request.Request(f"{lab.url}/api/kernels/{kernel['id']}", method="DELETE",
                                         headers={"Authorization": f"token {lab.token}"})
        urllib.request.urlopen(request, timeout=10).close()
    assert {"File", "Edit", "Kernel"} <= set(menus), menus
    assert "Nbgrader" not in menus, f"students see the Nbgrader menu: {menus}"
