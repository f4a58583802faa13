"""Headless Chromium (Debian's chromium and chromium-driver, through Selenium) opens the built site and checks it."""

from __future__ import annotations

import functools
import shutil
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from utils.course import colab_url

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)
INSTALL_HINT = "sudo apt-get install chromium chromium-driver (or `make setup` as root)"
WINDOW = (1280, 1000)
WAIT_S = 30

# Text left as typed, outside code: $...$, \( or \[ that MathJax did not turn into math.
RAW_MATH_JS = r"""
const skip = 'pre, code, script, style, textarea, .highlight, .MathJax, .MathJax_CHTML, .MathJax_Preview, .MJX_Assistive_MathML';
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const raw = [];
while (walker.nextNode()) {
  const node = walker.currentNode, parent = node.parentElement;
  if (!parent || parent.closest(skip)) continue;
  if (/\$[^$\s][^$]*\$|\\\(|\\\[|\\begin\{/.test(node.textContent)) raw.push(node.textContent.trim().slice(0, 80));
}
return raw;
"""
MATH_JS = """
return {sources: document.querySelectorAll('.math').length,
        rendered: document.querySelectorAll('.MathJax_CHTML').length,
        errors: document.querySelectorAll('.MathJax_Error, .mjx-merror').length};
"""
MATHJAX_DONE_JS = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !window.MathJax.Hub) { done(false); return; }
window.MathJax.Hub.Queue(() => done(true));
"""
PAGE_JS = """
return {links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        ids: [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.name),
        images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
        imageCount: document.images.length};
"""


@dataclass
class PageReport:
    """What one page showed the browser."""

    path: str
    console_errors: list[str] = field(default_factory=list)
    raw_math: list[str] = field(default_factory=list)
    math: dict[str, int] = field(default_factory=dict)
    broken_images: list[str] = field(default_factory=list)
    images: int = 0
    colab_links: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)

    def problems(self) -> list[str]:
        """Return one sentence per problem the page has."""
        found = [f"{self.path}: console error: {e}" for e in self.console_errors]
        found += [f"{self.path}: math left as typed: {r!r}" for r in self.raw_math[:3]]
        if self.math.get("sources", 0) and not self.math.get("rendered"):
            found.append(f"{self.path}: {self.math['sources']} formula(s) but MathJax rendered none")
        if self.math.get("errors"):
            found.append(f"{self.path}: MathJax reports {self.math['errors']} error(s)")
        found += [f"{self.path}: image without pixels: {src}" for src in self.broken_images]
        return found


@dataclass
class SiteReport:
    """Every page's report, the site-wide problems (links, Colab addresses) and the screenshots taken."""

    pages: dict[str, PageReport]
    problems: list[str]
    screenshots: list[Path]

    @property
    def ok(self) -> bool:
        """Return whether the site has no problem."""
        return not self.problems

    def summary(self) -> str:
        """Return a short account: pages, formulas, images and links checked, problems, screenshots."""
        formulas = sum(p.math.get("rendered", 0) for p in self.pages.values())
        images = sum(p.images for p in self.pages.values())
        links = sum(len(p.links) for p in self.pages.values())
        head = (f"Browser check: {len(self.pages)} pages, {formulas} formulas rendered, {images} images, "
                f"{links} links; {len(self.problems)} problem(s).")
        shots = [f"Screenshot: {path}" for path in self.screenshots]
        return "\n".join([head, *self.problems[:30], *shots])


def find_executable(names: tuple[str, ...]) -> str:
    """Return the first of these programs on PATH, or raise FileNotFoundError saying how to install Chromium."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(f"None of {', '.join(names)} is installed; install them with {INSTALL_HINT}.")


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve a folder over HTTP on 127.0.0.1 (as GitHub Pages would); yield its base address."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


class _QuietHandler(SimpleHTTPRequestHandler):
    """A static file handler that logs nothing."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    """A threaded HTTP server that does not print a traceback when the browser drops a connection."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextmanager
def chromium(window: tuple[int, int] = WINDOW) -> Iterator[Any]:
    """Start headless Chromium under chromedriver with a throw-away profile; yield the Selenium driver."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise RuntimeError("Selenium is not installed in this environment: run `make setup` "
                           "(or `pip install -e .[book]`).") from None

    options = webdriver.ChromeOptions()
    options.binary_location = find_executable(BROWSERS)
    profile = tempfile.mkdtemp(prefix="cnn-course-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-extensions", "--hide-scrollbars",
                 f"--window-size={window[0]},{window[1]}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(options=options, service=Service(executable_path=find_executable(DRIVERS)))
    except WebDriverException as exc:
        shutil.rmtree(profile, ignore_errors=True)
        first = (exc.msg or str(exc)).strip().splitlines()[0]
        raise RuntimeError(f"Headless Chromium did not start ({first}); check {INSTALL_HINT}.") from None
    driver.set_script_timeout(WAIT_S)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def check_page(driver: Any, url: str, path: str) -> PageReport:
    """Open one page, wait for MathJax, and report its console errors, math, images and links."""
    driver.get(url)
    report = PageReport(path)
    if driver.execute_script("return document.querySelectorAll('.math').length"):
        driver.execute_async_script(MATHJAX_DONE_JS)
    found = driver.execute_script(PAGE_JS)
    report.math = driver.execute_script(MATH_JS)
    report.raw_math = driver.execute_script(RAW_MATH_JS)
    report.links, report.ids = found["links"], set(found["ids"])
    report.broken_images, report.images = found["images"], found["imageCount"]
    report.colab_links = [link for link in report.links if link.startswith("https://colab.research.google.com/")]
    report.console_errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    return report


def _resolves(url: str) -> bool:
    """Return whether a non-page address on the local server answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def expected_colab(path: str, notebook_paths: list[str]) -> set[str]:
    """Return the Colab addresses a page may link to: its own notebook's, or every lab's on the landing page."""
    page = PurePosixPath(path)
    if path == "index.html":
        return {colab_url(p) for p in notebook_paths if p.startswith("labs/")}
    mirrored = str(page.with_suffix(".ipynb"))
    return {colab_url(mirrored)} if mirrored in notebook_paths else set()


def colab_problems(pages: dict[str, PageReport], notebook_paths: list[str]) -> list[str]:
    """Return one sentence per page whose Colab links are not exactly the ones it should have."""
    found = []
    for path, report in pages.items():
        expected = expected_colab(path, notebook_paths)
        if set(report.colab_links) != expected:
            found.append(f"{path}: Colab links {sorted(set(report.colab_links))}, expected {sorted(expected)}")
    return found


def check_site(html: Path, screenshots: Path | None = None, shots: tuple[str, ...] = ("index.html", "labs/02_*.html"),
               notebook_paths: list[str] | None = None) -> SiteReport:
    """Open every page of a built site in headless Chromium, follow every internal link, take screenshots."""
    if not (html / "index.html").is_file():
        raise FileNotFoundError(f"{html} holds no built site (no index.html); run `make book` first.")
    if notebook_paths is None:
        notebook_paths = sorted(p.relative_to(html).with_suffix(".ipynb").as_posix()
                                for folder in ("labs", "notebooks") for p in (html / folder).glob("*.html"))
    pages: dict[str, PageReport] = {}
    problems: list[str] = []
    taken: list[Path] = []
    wanted = {pattern: None for pattern in shots}
    with serve(html) as base, chromium() as driver:
        queue, seen, targets = ["index.html"], {"index.html"}, []
        while queue:
            path = queue.pop(0)
            report = pages[path] = check_page(driver, base + path, path)
            for pattern in wanted:
                if screenshots is not None and wanted[pattern] is None and PurePosixPath(path).match(pattern):
                    screenshots.mkdir(parents=True, exist_ok=True)
                    name = "landing.png" if path == "index.html" else PurePosixPath(path).stem + ".png"
                    driver.save_screenshot(str(screenshots / name))
                    wanted[pattern] = screenshots / name
            for link in report.links:
                if not link.startswith(base):
                    continue
                parsed = urllib.parse.urlsplit(link[len(base):])
                target = urllib.parse.unquote(parsed.path) or path
                targets.append((path, target, parsed.fragment))
                if target.endswith(".html") and target not in seen:
                    seen.add(target)
                    queue.append(target)
        for source, target, fragment in targets:
            if target in pages:
                if fragment and fragment not in pages[target].ids:
                    problems.append(f"{source}: link to {target}#{fragment}, which has no such anchor")
            elif not _resolves(base + target):
                problems.append(f"{source}: link to {target}, which does not resolve")
    for report in pages.values():
        problems += report.problems()
    problems += colab_problems(pages, notebook_paths)
    taken = [path for path in wanted.values() if path is not None]
    missing = [pattern for pattern, path in wanted.items() if path is None and screenshots is not None]
    problems += [f"no page matches {pattern} for a screenshot" for pattern in missing]
    return SiteReport(pages, sorted(set(problems)), taken)
