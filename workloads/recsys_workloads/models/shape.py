"""What a Keras model needs to be rebuilt before its weights load: one class for both models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from recsys_workloads.features import transform as ft

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class ModelShape(BaseModel, Generic[ConfigT]):
    """Config plus the sizes fitted on training data (vocabularies, content vectors)."""

    model_config = ConfigDict(frozen=True)

    config: ConfigT
    cardinalities: dict[str, int]
    content_dims: dict[str, int]
    recent_items: int

    @classmethod
    def fitted(
        cls,
        transforms: ft.FittedTransforms,
        config: ConfigT,
        content_dims: Mapping[str, int],
        categorical: Iterable[str],
    ) -> Self:
        names = (*categorical, ft.RECENT_ITEMS)
        return cls(
            config=config,
            cardinalities={n: transforms.cardinality(n) for n in names},
            content_dims=dict(content_dims),
            recent_items=transforms.recent_items,
        )

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.model_validate_json(text)
