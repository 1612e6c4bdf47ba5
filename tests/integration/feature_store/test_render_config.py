"""`feature_store.yaml` rendering (no Feast import): local and cloud templates, secrets by reference."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from recsys_workloads import feature_store as fs

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_the_cloud_template_uses_athena_s3_and_valkey_over_tls_with_the_password_from_the_environment() -> (
    None
):
    config = fs.cloud_config("valkey.abc.cache.amazonaws.com", "shop-bucket", "eu-west-1", "recsys")
    rendered = fs.render_feature_store_yaml(config)
    document = yaml.safe_load(rendered)
    assert document["provider"] == "aws"
    assert document["registry"] == "s3://shop-bucket/feast/registry.db"
    assert document["online_store"] == {
        "type": "redis",
        "connection_string": "valkey.abc.cache.amazonaws.com:6379,db=0,ssl=true,password=${VALKEY_PASSWORD}",
    }
    assert document["offline_store"]["type"] == "athena"
    assert document["offline_store"]["s3_staging_location"] == "s3://shop-bucket/athena-results/"
    assert "redis://" not in rendered


def test_the_local_template_is_a_connection_string_not_a_url() -> None:
    config = fs.local_config("127.0.0.1", 6390, Path("/tmp/f"), Path("/tmp/r.db"))
    online = yaml.safe_load(fs.render_feature_store_yaml(config))["online_store"]
    assert online == {"type": "redis", "connection_string": "127.0.0.1:6390,db=0"}
    sqlite = config.model_copy(update={"online_store": fs.SqliteOnlineStore(path="online.db")})
    assert yaml.safe_load(fs.render_feature_store_yaml(sqlite))["online_store"] == {
        "type": "sqlite",
        "path": "online.db",
    }


def test_the_committed_feature_store_yaml_is_the_rendered_default() -> None:
    committed = (REPO_ROOT / "feature_repo" / fs.FEATURE_STORE_FILE).read_text()
    assert committed == fs.render_feature_store_yaml(fs.FeatureStoreConfig())


def test_a_password_must_be_an_env_var_name_not_a_secret_value() -> None:
    with pytest.raises(ValidationError):
        fs.RedisOnlineStore(password_env="hunter2!")


def test_the_config_is_a_spec_model_in_camel_case() -> None:
    spec = fs.FeatureStoreConfig().to_spec()
    online_store = spec["onlineStore"]
    assert isinstance(online_store, dict)
    assert spec["embeddingDim"] == 64 and online_store["type"] == "redis"
    assert fs.FeatureStoreConfig.model_validate(spec) == fs.FeatureStoreConfig()
