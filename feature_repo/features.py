"""Feast definitions for the plain `feast apply` CLI; the code path is `recsys_workloads.feature_store.apply`.

Both build the same objects from `recsys_workloads.feature_store.definitions`. Configure with
`RECSYS_FEATURE_STORE_CONFIG` (a FeatureStoreConfig as JSON) or `RECSYS_FEATURE_DATA` (the
folder of the feature tables); render `feature_store.yaml` with `render_feature_store_yaml`.
"""

from recsys_workloads.feature_store import config_from_env, definitions

(
    user,
    item,
    user_profile,
    user_recent_items,
    item_attributes,
    item_embeddings,
    item_popularity,
) = definitions(config_from_env())
