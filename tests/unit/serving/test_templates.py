"""The Triton repository templates: what each hand-written ensemble needs is rendered with it."""

from __future__ import annotations


def test_the_popular_path_holds_every_model_its_ensemble_names() -> None:
    import re

    from recsys_workloads.serving.repository import template_dir
    from recsys_workloads.serving.templates import POPULAR_PATH

    config = (template_dir() / "homepage_popular" / "config.pbtxt").read_text()
    steps = re.findall(r'model_name: "([^"]+)"', config)
    assert steps and set(steps) <= set(POPULAR_PATH)
    assert POPULAR_PATH[-1] == "homepage_popular"
