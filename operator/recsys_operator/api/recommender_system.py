"""`RecommenderSystem` (short name `recsys`): one homepage recommender, declared.

Sub-specs that the data plane consumes are the data plane's own config classes
(`recsys_workloads.*.config`), so the object a user applies is the object the pipelines
and serving steps receive. Rules OpenAPI cannot express on Kubernetes 1.20 (no CEL)
live in `validate()`, which the operator runs and reports as `Stalled/InvalidSpec`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from recsys_operator.api.conditions import Condition
from recsys_operator.schedule import invalid_schedule
from recsys_workloads.contracts.access import AuthSpec, RateLimitConfig
from recsys_workloads.contracts.data_sources import DataSourcesSpec, GeneratorSpec
from recsys_workloads.contracts.events import EventLimits, WalConfig
from recsys_workloads.contracts.experiment import ExperimentSpec
from recsys_workloads.contracts.images import SERVING_IMAGE, WORKLOADS_IMAGE
from recsys_workloads.contracts.index import IndexConfig, ivf_lists
from recsys_workloads.contracts.models import ModelsConfig
from recsys_workloads.contracts.online import PopularityConfig, SeenFilterConfig
from recsys_workloads.contracts.serving import (
    MAX_CATEGORY_CAP,
    MAX_TEMPERATURE,
    MAX_TOP_K,
    ServingGraphConfig,
)
from recsys_workloads.contracts.spec import (
    AbsolutePath,
    Grammar,
    HostPort,
    HttpUrl,
    ImageRef,
    ObjectName,
    Quantity,
    SpecModel,
    StoreUri,
)

KIND = "RecommenderSystem"
PLURAL = "recommendersystems"
SHORT_NAMES = ["recsys"]

# Condition types, in the order `kubectl describe` shows them.
READY = "Ready"
FEATURE_STORE_READY = "FeatureStoreReady"
INDEX_READY = "IndexReady"
FILTERS_READY = "FiltersReady"
SERVING_READY = "ServingReady"
API_READY = "ApiReady"
EVENT_SERVICE_READY = "EventServiceReady"
CAPACITY_READY = "CapacityReady"
RECONCILING = "Reconciling"
STALLED = "Stalled"
MODEL_UP_TO_DATE = "ModelUpToDate"  # the newest trained version serves; not part of Ready
EXPERIMENT_CONCLUDED = "ExperimentConcluded"  # spec.experiment has a decision; not part of Ready
COMPONENT_CONDITIONS = (
    FEATURE_STORE_READY,
    INDEX_READY,
    FILTERS_READY,
    SERVING_READY,
    API_READY,
    EVENT_SERVICE_READY,
    CAPACITY_READY,
)


class OnlineStoreSpec(SpecModel):
    """The Valkey (Redis-compatible) online store: seen filters, popularity, user features."""

    address: HostPort | None = Field(
        None, description="host:port of an existing Valkey/Redis; empty: the operator provisions one"
    )
    image: ImageRef = Field(
        "valkey/valkey-bundle:8.1", description="image of a provisioned Valkey (with valkey-bloom)"
    )
    tls: bool = Field(False, description="connect with TLS (ElastiCache for Valkey in transit encryption)")
    password_secret_ref: ObjectName | None = Field(
        None, description="Secret (key 'password') holding the AUTH password"
    )
    storage: Quantity = Field("1Gi", description="volume size of a provisioned Valkey")


class OfflineStoreSpec(SpecModel):
    """Feast offline store holding the feature history training reads."""

    type: Literal["file", "athena"] = Field("file", description="Feast offline store type")
    uri: StoreUri | None = Field(None, description="absolute folder or s3:// prefix of the offline store")


class FeatureStoreSpec(SpecModel):
    """The Feast project serving features online (Valkey) and offline (files or Athena)."""

    project: str = Field("homepage", pattern=r"^[a-z][a-z0-9_]*$", description="Feast project name")
    offline_store: OfflineStoreSpec = Field(default_factory=OfflineStoreSpec)
    online_store: OnlineStoreSpec = Field(default_factory=OnlineStoreSpec)


class RankingSpec(SpecModel):
    """DLRM ranking of the retrieved candidates."""

    top_k: int = Field(100, ge=1, le=MAX_TOP_K, description="candidates the DLRM ranker keeps for reranking")


class RerankingSpec(SpecModel):
    """Diversity and softmax sampling over the ranked candidates."""

    num_items: int = Field(20, ge=1, le=1_000, description="items returned to the homepage")
    max_per_category: int | None = Field(
        None, ge=1, le=MAX_CATEGORY_CAP, description="diversity: at most this many items per category"
    )
    temperature: float = Field(
        0.0,
        ge=0.0,
        le=MAX_TEMPERATURE,
        description="softmax sampling temperature: 0 is greedy top-k, large is near uniform",
    )


class ResourcesSpec(SpecModel):
    """Resources of one Triton replica."""

    cpu: Quantity = Field("2", description="CPU request and limit")
    memory: Quantity = Field("8Gi", description="memory request and limit")
    gpu: int = Field(0, ge=0, le=8, description="nvidia.com/gpu per replica")


class ModelRepositorySpec(SpecModel):
    """The shared model volume Triton loads versions from."""

    storage_class: ObjectName = Field(
        "efs-sc", description="ReadWriteMany storage class of the shared model volume"
    )
    size: Quantity = Field("20Gi", description="size of the model volume claim")


class RolloutSpec(SpecModel):
    """How a new model version replaces the serving one."""

    canary_requests: int = Field(
        3, ge=0, le=1_000, description="requests a new version must answer before it serves"
    )
    keep_versions: int = Field(2, ge=1, le=10, description="model versions kept on the volume (for rollback)")


class ServingSpec(SpecModel):
    """NVIDIA Triton serving the recommendation ensemble."""

    image: ImageRef = Field(
        SERVING_IMAGE,
        description="Triton image with recsys_workloads' serving venv and step templates (the Dockerfile's "
        "serving target, built on NVIDIA's tritonserver image)",
    )
    replicas: int = Field(1, ge=0, le=100, description="Triton replicas (the HPA moves between min and max)")
    max_replicas: int = Field(2, ge=1, le=100, description="HPA maximum on Triton queue time")
    queue_time_target_ms: int = Field(200, ge=1, description="HPA target of avg_time_queue_ms")
    graph: Literal["ensemble", "fused"] = Field(
        "ensemble", description="ensemble: the 14 Triton steps; fused: the same functions in fewer steps"
    )
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    model_repository: ModelRepositorySpec = Field(default_factory=ModelRepositorySpec)
    rollout: RolloutSpec = Field(default_factory=RolloutSpec)


class PodResourcesSpec(SpecModel):
    """CPU and memory of one API or event service replica (memory is also the limit; CPU is not capped)."""

    cpu: Quantity = Field("500m", description="CPU request")
    memory: Quantity = Field("1Gi", description="memory request and limit")


class ApiSpec(SpecModel):
    """The recommendation API (`recsys api serve`): HTTP in front of Triton, popularity when Triton fails."""

    image: ImageRef = Field(
        WORKLOADS_IMAGE, description="image with the `recsys` command (the workloads target)"
    )
    replicas: int = Field(1, ge=0, le=100, description="API replicas; 0: the operator runs no API")
    timeout_s: float = Field(
        0.5, gt=0, le=30, description="deadline of one Triton call before the popularity fallback answers"
    )
    resources: PodResourcesSpec = Field(default_factory=PodResourcesSpec)
    auth: AuthSpec = Field(
        default_factory=AuthSpec,
        description="bearer token asked of callers (a Secret reference; default open)",
    )
    rate_limit: RateLimitConfig = Field(
        default_factory=RateLimitConfig, description="requests per client address (429 with Retry-After)"
    )


class EventServiceSpec(SpecModel):
    """The event service (`recsys events serve`): interactions in, online state and offline log updated."""

    image: ImageRef = Field(
        WORKLOADS_IMAGE, description="image with the `recsys` command (the workloads target)"
    )
    replicas: int = Field(
        1, ge=0, le=20, description="replicas, each with its own WAL folder; 0: the operator runs none"
    )
    resources: PodResourcesSpec = Field(default_factory=PodResourcesSpec)
    storage_class: ObjectName = Field(
        "efs-sc", description="ReadWriteMany storage class of the event log volume (training reads it)"
    )
    storage: Quantity = Field("10Gi", description="size of the event log volume (WAL and parquet parts)")
    catalog: AbsolutePath = Field(
        "/models/catalog",
        description="canonical dataset folder or items.parquet inside the pod (the model volume is at /models)",
    )
    limits: EventLimits = Field(default_factory=EventLimits)
    wal: WalConfig = Field(default_factory=WalConfig)
    auth: AuthSpec = Field(
        default_factory=AuthSpec,
        description="bearer token asked of callers (a Secret reference; default open); the API's demo "
        "proxy is given it too",
    )
    rate_limit: RateLimitConfig = Field(
        default_factory=RateLimitConfig, description="requests per client address (429 with Retry-After)"
    )


class TrainingResourcesSpec(SpecModel):
    """CPU and memory of the training Job's pod (orchestrator job); memory is also the limit."""

    cpu: Quantity = Field("2", description="CPU request")
    memory: Quantity = Field("8Gi", description="memory request and limit")


class TrainingSpec(SpecModel):
    """Training runs: the initial run and scheduled incremental runs, on KFP or as Kubernetes Jobs."""

    initial: bool = Field(True, description="start an initial TrainingRun when no model exists")
    incremental_schedule: str | None = Field(
        "0 3 * * *", description="cron schedule (UTC) of incremental runs; empty: none"
    )
    history_replay_ratio: float = Field(0.2, ge=0.0, le=10.0, description="replayed history rows per new row")
    orchestrator: Literal["kfp", "job"] = Field(
        "kfp",
        description="kfp: each run goes to the Kubeflow Pipelines server at kfpEndpoint; job: each run is "
        "one Kubernetes Job that executes the same compiled pipeline with KFP's local runner in the "
        "training image (no KFP server), on the model volume",
    )
    kfp_endpoint: HttpUrl | None = Field(
        None,
        description="Kubeflow Pipelines API (orchestrator kfp); empty: "
        "http://ml-pipeline.kubeflow.svc.cluster.local:8888",
    )
    artifact_root: StoreUri | None = Field(
        None,
        description="s3://bucket/prefix (or an absolute folder inside the training pods) keeping this "
        "recommender's run artifacts under <root>/<namespace>/<name>; empty: the operator's "
        "RECSYS_ARTIFACT_ROOT, or the model volume for orchestrator job",
    )
    image: ImageRef = Field(
        WORKLOADS_IMAGE,
        description="image of the training Job (orchestrator job; KFP steps run the image compiled into the "
        "pipeline, the workloads target)",
    )
    resources: TrainingResourcesSpec = Field(default_factory=TrainingResourcesSpec)
    timeout_minutes: int = Field(
        360,
        ge=1,
        le=10_080,
        description="a training Job still running after this long fails (orchestrator job)",
    )
    gpu: bool = Field(False, description="run training steps on GPU nodes")


# EKS cluster and node group names; EC2 instance types (family.size, e.g. g5.xlarge).
EksName = Annotated[
    str, Grammar(r"^[0-9A-Za-z][A-Za-z0-9_-]*$", "an EKS name (letters, digits, - and _)", 100)
]
InstanceType = Annotated[
    str, Grammar(r"^[a-z0-9][a-z0-9-]*\.[a-z0-9]+$", "an EC2 instance type (e.g. g5.xlarge)", 64)
]


class CapacitySpec(SpecModel):
    """GPU node capacity the operator reconciles for training and serving."""

    provider: Literal["none", "karpenter", "eks-nodegroup"] = Field(
        "none", description="how GPU nodes are scaled: a Karpenter NodePool or an EKS managed node group"
    )
    node_pool: ObjectName | None = Field(None, description="Karpenter NodePool name")
    cluster_name: EksName | None = Field(None, description="EKS cluster (eks-nodegroup)")
    node_group: EksName | None = Field(None, description="EKS managed node group (eks-nodegroup)")
    instance_types: list[InstanceType] = Field(
        default_factory=lambda: ["g5.xlarge"], min_length=1, max_length=50, description="GPU instance types"
    )
    min_nodes: int = Field(0, ge=0, le=1_000, description="GPU nodes kept even when idle")
    max_nodes: int = Field(2, ge=0, le=1_000, description="GPU nodes at most")


class RecommenderSystemSpec(SpecModel):
    """Desired state of a homepage recommender."""

    data_sources: DataSourcesSpec = Field(
        default_factory=DataSourcesSpec,
        description="where training reads the shop's data; takes effect at the next training run "
        "(status.model.builtWith shows what serves)",
    )
    feature_store: FeatureStoreSpec = Field(default_factory=FeatureStoreSpec)
    models: ModelsConfig = Field(
        default_factory=ModelsConfig,
        description="every model setting; takes effect at the next Initial training run (fine-tuning keeps the "
        "serving version's shapes; status.model.builtWith shows what serves)",
    )
    retrieval: IndexConfig = Field(
        default_factory=IndexConfig,
        description="topK, nprobe, efSearch act at serving load; factory and metric take effect at the next Initial "
        "training run (status.model.builtWith shows what serves)",
    )
    filtering: SeenFilterConfig = Field(
        default_factory=SeenFilterConfig,
        description="seen-filter layout (rolls both planes now); windowDays is also the history memory "
        "the features learn under, which takes effect at the next Initial training run (status.model.builtWith)",
    )
    popularity: PopularityConfig = Field(default_factory=PopularityConfig)
    ranking: RankingSpec = Field(default_factory=RankingSpec)
    reranking: RerankingSpec = Field(default_factory=RerankingSpec)
    serving: ServingSpec = Field(default_factory=ServingSpec)
    api: ApiSpec = Field(default_factory=ApiSpec)
    events: EventServiceSpec = Field(default_factory=EventServiceSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    capacity: CapacitySpec = Field(default_factory=CapacitySpec)
    experiment: ExperimentSpec | None = Field(
        None,
        description="an online experiment between model versions (sticky per visitor, decided on attributed "
        "events); none: the current version serves everyone",
    )
    suspend: bool = Field(False, description="stop reconciling and scheduling runs; serving stays as it is")

    def serving_graph(self) -> ServingGraphConfig:
        """The knobs the serving steps read, gathered from retrieval, ranking, reranking, serving, filtering."""
        return ServingGraphConfig(
            graph=self.serving.graph,
            retrieval_top_k=self.retrieval.top_k,
            ranking_top_k=self.ranking.top_k,
            category_cap=self.reranking.max_per_category or 0,
            temperature=self.reranking.temperature,
            nprobe=self.retrieval.nprobe,
            ef_search=self.retrieval.ef_search,
            seen_filter=self.filtering,
        )


def validate(spec: RecommenderSystemSpec) -> list[str]:
    """Cross-field rules beyond OpenAPI on 1.20; each message names the field."""
    problems = spec.data_sources.problems()
    if spec.serving.replicas > spec.serving.max_replicas:
        problems.append("spec.serving.replicas must not exceed spec.serving.maxReplicas")
    cap = spec.capacity
    if cap.min_nodes > cap.max_nodes:
        problems.append("spec.capacity.minNodes must not exceed spec.capacity.maxNodes")
    if cap.provider == "karpenter" and not cap.node_pool:
        problems.append("spec.capacity.nodePool is required with provider karpenter")
    if cap.provider == "eks-nodegroup" and not (cap.cluster_name and cap.node_group):
        problems.append("spec.capacity.clusterName and nodeGroup are required with provider eks-nodegroup")
    schedule = spec.training.incremental_schedule
    if schedule and (problem := invalid_schedule(schedule)):
        problems.append(problem)
    if spec.ranking.top_k < spec.reranking.num_items:
        problems.append("spec.reranking.numItems must not exceed spec.ranking.topK")
    if spec.retrieval.top_k < spec.ranking.top_k:
        problems.append(
            "spec.ranking.topK must not exceed spec.retrieval.topK (the ranker sees only retrieved items)"
        )
    lists = ivf_lists(spec.retrieval.factory)
    generator = spec.data_sources.generator
    if lists is not None and spec.data_sources.layout == "generated":
        items = (generator or GeneratorSpec()).items
        if lists > items:
            problems.append(
                f"spec.retrieval.factory asks for {lists} IVF lists, more than the "
                f"{items} items of spec.dataSources.generator.items"
            )
    return problems


ModelTransition = Literal["UpToDate", "InProgress", "BlockedByFailedLoad"]


class ModelStatus(SpecModel):
    """Which model version serves, and whether a new one is rolling out."""

    current_version: int | None = Field(None, description="model version Triton serves")
    previous_version: int | None = Field(None, description="version a rollback returns to")
    latest_version: int | None = Field(
        None, description="newest version a TrainingRun produced (with promote Manual it waits here)"
    )
    transition: ModelTransition = Field("UpToDate", description="UpToDate, InProgress or BlockedByFailedLoad")
    message: str | None = Field(None, description="what the last rollout did, or why it was blocked")
    built_with: dict[str, str] = Field(
        default_factory=dict,
        description="training-time spec values the serving version was built with (see its TrainingRun)",
    )


ExperimentPhase = Literal["Running", "Concluded", "Inconclusive", "Invalid"]


class ArmStatus(SpecModel):
    """One arm's live numbers: homepage-level rates with 95 % Wilson intervals."""

    name: str
    version: int | None = Field(None, description="model version served (None: the popularity path)")
    weight: int = 0
    shadow: bool = False
    homepages: int = Field(0, description="homepages served (shadow: computed, never shown)")
    goal_homepages: int = Field(
        0, description="homepages with at least one attributed event of the experiment's goal"
    )
    attributed: dict[str, int] = Field(
        default_factory=dict, description="goal -> homepages with at least one attributed event of it"
    )
    goal_rate: float | None = Field(None, description="goal_homepages / homepages")
    goal_rate_low: float | None = Field(None, description="95 % interval, lower end")
    goal_rate_high: float | None = Field(None, description="95 % interval, upper end")
    click_rate: float | None = Field(None, description="homepages with an attributed click / homepages")
    add_to_cart_rate: float | None = None
    purchase_rate: float | None = None
    probability_best: float | None = Field(
        None, description="posterior probability that this arm's goal rate is the highest of the live arms"
    )
    latency_p99_ms: float | None = Field(None, description="p99 homepage latency (bucket upper edge)")
    error_rate: float | None = Field(None, description="share of homepages the popularity fallback answered")
    overlap: float | None = Field(None, description="shadow: mean share of its items that were also shown")
    disqualified: str | None = Field(None, description="the guardrail this arm breached, if any")


class ExperimentStatus(SpecModel):
    """Where spec.experiment stands: per-arm numbers, and the decision once taken."""

    name: str
    phase: ExperimentPhase = "Running"
    goal: str = "click"
    started_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None
    winner: str | None = Field(
        None, description="the arm that serves everyone after the decision (promote: Auto)"
    )
    reason: str = ""
    message: str = ""
    summary: str = Field("", description="one line per arm: name version rate [low, high] P(best)")
    arms: list[ArmStatus] = Field(default_factory=list)


class RecommenderSystemStatus(SpecModel):
    """Observed state, written by the operator."""

    observed_generation: int | None = Field(None, description="spec generation last reconciled")
    conditions: list[Condition] = Field(default_factory=list)
    model: ModelStatus = Field(default_factory=ModelStatus)
    endpoint: str | None = Field(None, description="gRPC address of the recommendation ensemble")
    last_training_run: str | None = Field(None, description="name of the newest TrainingRun")
    last_training_time: dt.datetime | None = Field(None, description="when the newest TrainingRun finished")
    last_schedule_time: dt.datetime | None = Field(
        None, description="slot of the newest scheduled incremental run"
    )
    experiment: ExperimentStatus | None = Field(None, description="the online experiment (spec.experiment)")
