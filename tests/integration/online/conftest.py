"""Backends for the shared seen-filter suite: bitmap on the real redis-server, native on fakeredis.

Debian's redis-server has no `BF.*` commands, so the native backend runs against
fakeredis, which implements BF.INSERT / BF.MEXISTS; everything else uses the real server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import fakeredis
import pytest
import redis

from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.online.client import connect
from recsys_workloads.online.seen_filter import BitmapSeenFilter, NativeBloomSeenFilter, SeenFilter

FilterFactory = Callable[[SeenFilterConfig], SeenFilter]


@pytest.fixture
def real_client(redis_url: str) -> Iterator[redis.Redis]:
    client = connect(redis_url, timeout_s=2.0)
    yield client
    client.close()


@pytest.fixture(params=["bitmap", "native"])
def make_filter(request: pytest.FixtureRequest) -> Iterator[FilterFactory]:
    if request.param == "bitmap":
        client: redis.Redis = request.getfixturevalue("real_client")
        yield lambda config: BitmapSeenFilter(client, config)
    else:
        fake = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        yield lambda config: NativeBloomSeenFilter(fake, config)
        fake.close()
