"""Where pipeline steps run on a KFP cluster: GPUs, nodes, the model volume, no caching.

Every value comes from `training_resources`, a step that reads the run's config, because
resource limits and kfp-kubernetes' JSON fields accept task outputs: one compiled YAML
serves every recommender. kfp.local ignores all of it (no pods), so local runs are unchanged.
"""

from kfp import dsl, kubernetes
from kfp.dsl.pipeline_channel import PipelineChannel

from recsys_workloads.contracts.pipelines import GPU_RESOURCE, MODEL_MOUNT


def on_training_nodes(task: dsl.PipelineTask, resources: dsl.PipelineTask) -> dsl.PipelineTask:
    """A training step asks for the config's GPUs ("0" or "1") on its nodeSelector, with its tolerations.

    The explicit `after` matters: kfp does not record a dependency for a value used only in
    a resource limit, and kfp.local would run the step before the value exists.
    """
    gpus: PipelineChannel = resources.outputs["gpus"]
    task.set_accelerator_type(GPU_RESOURCE).set_accelerator_limit(gpus).after(resources)
    kubernetes.add_node_selector_json(task, resources.outputs["node_selector"])
    kubernetes.add_toleration_json(task, resources.outputs["tolerations"])
    return task


def on_model_volume(task: dsl.PipelineTask, resources: dsl.PipelineTask) -> dsl.PipelineTask:
    """Mount the config's modelVolumeClaim at MODEL_MOUNT (where `modelRepository` must lie)."""
    kubernetes.mount_pvc(task, pvc_name=resources.outputs["model_claim"], mount_path=MODEL_MOUNT)
    return task.after(resources)


def uncached(*tasks: dsl.PipelineTask) -> None:
    """Never reuse a cached result: steps read outside state (data sources, event log, model volume).

    Set per task at compile time because the client's `enable_caching` reaches only the
    top-level tasks, not those inside a `dsl.If`.
    """
    for task in tasks:
        task.set_caching_options(False)
