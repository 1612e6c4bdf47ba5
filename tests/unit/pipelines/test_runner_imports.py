"""The operator image has kfp but not kfp-kubernetes: its runner must not import the pipeline code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_kfp_runner_imports_without_kfp_kubernetes() -> None:
    code = (
        "import sys\n"
        "sys.modules['kfp.kubernetes'] = None\n"
        "from recsys_workloads.pipelines.runner import KfpClientRunner, recorded_outputs\n"
        "from recsys_workloads.contracts.pipelines import COMPILED_DIR\n"
        "assert (COMPILED_DIR / 'initial.yaml').is_file()\n"
        "print(recorded_outputs('r', {}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "{}"
    # and the pipeline definitions do need it (the training image installs it)
    blocked = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['kfp.kubernetes'] = None\n"
         "import recsys_workloads.pipelines.registry"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert blocked.returncode != 0 and "kfp.kubernetes" in blocked.stderr
