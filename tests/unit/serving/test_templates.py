"""The Triton repository templates: what each hand-written ensemble needs is rendered with it."""

from __future__ import annotations


def test_the_popular_path_holds_every_model_its_ensemble_names() -> None:
    import re

    from recsys_workloads.serving.triton.repository import template_dir
    from recsys_workloads.serving.triton.templates import POPULAR_PATH

    config = (template_dir() / "homepage_popular" / "config.pbtxt").read_text()
    steps = re.findall(r'model_name: "([^"]+)"', config)
    assert steps and set(steps) <= set(POPULAR_PATH)
    assert POPULAR_PATH[-1] == "homepage_popular"


def test_every_ensemble_name_the_planes_use_is_an_ensemble_folder_of_that_name_in_the_repository() -> None:
    import re

    from recsys_workloads.contracts.serving import ENSEMBLE_OF, POPULAR_ENSEMBLE
    from recsys_workloads.serving.triton.repository import template_dir

    for name in [*ENSEMBLE_OF.values(), POPULAR_ENSEMBLE]:
        config = (template_dir() / name / "config.pbtxt").read_text()
        assert re.search(rf'^name: "{name}"$', config, re.M), name
        assert re.search(r'^platform: "ensemble"$', config, re.M), name
