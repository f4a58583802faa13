"""Run one grading job: ``python -m utils.grading JOB`` (the grader starts one such worker per submission)."""

import json
import sys
from pathlib import Path

from utils.grading.worker import run_job

run_job(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
