"""The course's command line: ``python -m utils COMMAND`` (see ``python -m utils --help``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_run(args: argparse.Namespace) -> int:
    """Execute solution and companion notebooks headless and print a summary table."""
    from utils import runner

    results = runner.run(args.notebooks or None, profile=args.profile, out_dir=Path(args.out))
    return 0 if all(r.status == "passed" for r in results) else 1


def _cmd_labs(args: argparse.Namespace) -> int:
    """Regenerate labs/ from solutions/, or check that they are in sync."""
    from utils import labs

    drifted = labs.generate(check=args.check)
    if args.check:
        if drifted:
            print("Out of sync with solutions/ (run `make labs`): " + ", ".join(drifted))
            return 1
        print("labs/ is in sync with solutions/.")
        return 0
    print("Regenerated: " + ", ".join(drifted) if drifted else "labs/ was already up to date.")
    return 0


def _cmd_clean(args: argparse.Namespace) -> int:
    """Strip outputs and execution counts from notebooks (default: solutions/ and notebooks/)."""
    from utils import labs

    paths = [Path(p) for p in args.paths] or sorted(labs.SOLUTIONS.glob("*.ipynb")) + sorted(
        labs.NOTEBOOKS.glob("*.ipynb")
    )
    changed = labs.clean(paths)
    print("Cleaned: " + ", ".join(changed) if changed else "Nothing to clean.")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    """Show the active profile and each lab's settings in it."""
    from utils.profiles import LABS, get_profile

    profile = get_profile(args.profile)
    print(profile)
    for lab in args.labs or list(LABS):
        print(profile.lab(lab))
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    """Show, download, import or prepare the course's datasets."""
    from utils import data

    if args.action == "status":
        print(data.format_status(data.status()))
        print(data.format_prepared(data.prepared_rows()))
    elif args.action == "fetch":
        data.fetch(args.names or None)
        print(data.format_status(data.status()))
    elif args.action == "import":
        if len(args.names) != 1:
            print("usage: python -m utils data import DIR", file=sys.stderr)
            return 2
        imported = data.import_dir(Path(args.names[0]))
        print(f"Imported {len(imported)} file(s) into {data.data_dir()}.")
        print(data.format_status(data.status()))
    elif args.action == "prepare":
        for lab in args.lab or []:
            data.prepare_lab(lab)
        every_lab = dict.fromkeys(n for names in data.LAB_DATASETS.values() for n in names)
        for name in args.names or ([] if args.lab else list(every_lab)):
            data.prepare(name)
        print(data.format_prepared(data.prepared_rows()))
    return 0


def _cmd_zoo(args: argparse.Namespace) -> int:
    """Train and cache the course's pretrained encoders (Lab 5), fetch ImageNet weights, or show the cache."""
    from utils import zoo
    from utils.profiles import PROFILES, get_profile

    if args.profile == "all" or (args.profile is None and args.action == "status"):
        profiles = tuple(PROFILES)
    else:
        profiles = (get_profile(args.profile).name,)
    if args.action == "build":
        for profile in profiles:
            config = zoo.config_for_profile(profile)
            cached = zoo.encoder_path(config).is_file()
            if cached and not args.rebuild:
                print(f"Course encoder ({profile}): already cached at {zoo.encoder_path(config)}.")
                continue
            zoo.course_encoder(config, rebuild=args.rebuild)
        if args.imagenet:
            settings = get_profile(profiles[0]).lab(zoo.LAB)
            path = zoo.fetch_imagenet_weights(settings.imagenet_alpha, settings.imagenet_size)
            print(f"ImageNet weights: {path}")
    print(zoo.format_status(zoo.status(profiles)))
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    """Grade a class's submissions of a lab against its solution; write a gradebook and feedback."""
    from utils import grading

    grading.grade(args.lab, Path(args.submissions), out_dir=Path(args.out) if args.out else None, jobs=args.jobs,
                  timeout=args.timeout, cell_timeout=args.cell_timeout, profile=args.profile,
                  no_sandbox=args.no_sandbox)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    """Measure each lab model's training throughput against the machine's matmul rate."""
    from utils import bench

    bench.run(profile=args.profile, out=Path(args.out))
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    """Build the course website from build/ (after `make run`), then check it in headless Chromium."""
    from utils import book

    html = book.build(Path(args.build), instructor=args.instructor, quiet=not args.verbose)
    print(f"Built the {'instructor' if args.instructor else 'student'} site: {html}/index.html")
    if args.check:
        from utils.book import browser

        report = browser.check_site(html, book.output_dir(Path(args.build), args.instructor) / "screenshots")
        print(report.summary())
        return 0 if report.ok else 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m utils``."""
    parser = argparse.ArgumentParser(prog="python -m utils", description="Convolutional-networks course tools.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="execute solution/companion notebooks headless and summarise")
    p.add_argument("notebooks", nargs="*", help="names or prefixes (e.g. 01) or paths; default: all")
    p.add_argument("--profile", choices=["smoke", "cpu", "gpu"], help="default: $COURSE_PROFILE or by hardware")
    p.add_argument("--out", default="build", help="folder for executed notebooks, HTML and summary.json")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("labs", help="regenerate labs/ from solutions/")
    p.add_argument("--check", action="store_true", help="only report labs that are out of sync")
    p.set_defaults(func=_cmd_labs)

    p = sub.add_parser("clean", help="strip outputs from notebooks before committing")
    p.add_argument("paths", nargs="*", help="notebooks; default: solutions/ and notebooks/")
    p.set_defaults(func=_cmd_clean)

    p = sub.add_parser("profile", help="show the active profile and its per-lab settings")
    p.add_argument("labs", nargs="*", help="labs to show; default: all")
    p.add_argument("--profile", choices=["smoke", "cpu", "gpu"])
    p.set_defaults(func=_cmd_profile)

    p = sub.add_parser("data", help="datasets: status | fetch [NAME...] | import DIR | prepare [NAME...] [--lab NN]")
    p.add_argument("action", choices=["status", "fetch", "import", "prepare"])
    p.add_argument("names", nargs="*", help="dataset names (fetch, prepare) or a folder (import)")
    p.add_argument("--lab", action="append", help="prepare: every dataset lab NN loads in the active profile (repeatable)")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("zoo", help="pretrained encoders for Lab 5: build | status")
    p.add_argument("action", choices=["build", "status"])
    p.add_argument("--profile", choices=["smoke", "cpu", "gpu", "all"],
                   help="whose encoder (default: $COURSE_PROFILE or by hardware; status defaults to all)")
    p.add_argument("--rebuild", action="store_true", help="train again even when cached")
    p.add_argument("--imagenet", action="store_true", help="also download the MobileNetV2 ImageNet weights (build)")
    p.set_defaults(func=_cmd_zoo)

    p = sub.add_parser("grade", help="grade a class's submissions of a lab into a gradebook and feedback")
    p.add_argument("lab", help="lab name or prefix (e.g. 01), resolved against solutions/")
    p.add_argument("submissions", help="folder with one STUDENT.ipynb or one STUDENT/ folder per student")
    p.add_argument("--out", help="output folder (default: build/grades/LAB)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default: 1)")
    p.add_argument("--timeout", type=float, help="seconds per submission (default by profile: smoke 900)")
    p.add_argument("--cell-timeout", type=float, help="seconds per cell (default by profile: smoke 120)")
    p.add_argument("--profile", choices=["smoke", "cpu", "gpu"], default="smoke",
                   help="profile the submissions run in (default: smoke)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="grade without the bubblewrap sandbox (unsafe for untrusted submissions; every row says so)")
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("book", help="build the course website from build/ into build/book/html (after `make run`)")
    p.add_argument("--instructor", action="store_true", help="the edition with solutions, into build/book-instructor")
    p.add_argument("--check", action="store_true", help="then open every page in headless Chromium and take screenshots")
    p.add_argument("--build", default="build", help="the folder `make run` wrote (default: build)")
    p.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    p.set_defaults(func=_cmd_book)

    p = sub.add_parser("bench", help="training throughput of each lab's model versus the matmul peak")
    p.add_argument("--profile", choices=["smoke", "cpu", "gpu"])
    p.add_argument("--out", default="build/bench.json", help="where to write the JSON report")
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
