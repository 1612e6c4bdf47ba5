"""Valkey passwords come from the environment (a Secret in the cluster), never from config files."""

from __future__ import annotations

import pytest

from recsys_workloads.online.client import PASSWORD_ENV, connect


def test_a_url_without_password_takes_the_environment_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    kwargs = connect("redis://10.0.0.1:6379/0").connection_pool.connection_kwargs
    assert kwargs["password"] == "s3cret"


def test_a_password_in_the_url_wins_and_none_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    assert connect("redis://:mine@10.0.0.1:6379/0").connection_pool.connection_kwargs["password"] == "mine"
    monkeypatch.delenv(PASSWORD_ENV)
    assert connect("redis://10.0.0.1:6379/0").connection_pool.connection_kwargs.get("password") is None
