"""Compile every registered pipeline to KFP IR YAML (`make pipelines`; CI checks for drift).

The pipeline definitions are imported only to compile: `KfpClientRunner` reads
`COMPILED_DIR` from the operator image, which has kfp but not kfp-kubernetes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from recsys_workloads.contracts.pipelines import COMPILED_DIR


def compiled() -> dict[str, str]:
    from kfp import compiler

    from recsys_workloads.pipelines.registry import PIPELINES

    texts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, func in PIPELINES.items():
            path = Path(tmp) / f"{name}.yaml"
            compiler.Compiler().compile(func, str(path))
            texts[f"{name}.yaml"] = path.read_text()
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=COMPILED_DIR)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in compiled().items():
        (args.out / name).write_text(text)
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
