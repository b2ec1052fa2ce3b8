"""The colony service under the server: colonies open on demand and close when idle, a bounded number at once;
admission is bounded and refuses at once; owners see only their colonies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harmonix.config import Config
from harmonix.errors import ColonyBusy, ColonyNotFound, ServiceBusy
from harmonix.service import Admission, ColonyService, ServiceLimits
from serving import llm_standin


@pytest.fixture(scope="module")
def standin() -> Iterator[str]:
    with llm_standin(0.05) as url:
        yield url


async def ready(service: ColonyService) -> ColonyService:
    assert await service.loaded()
    return service


async def test_colonies_open_on_demand_and_the_least_recently_used_idle_one_closes(tmp_path: Path,
                                                                                   standin: str) -> None:
    config = Config.load(tmp_path / "home", llm_url=standin)
    async with ColonyService.open(config, ServiceLimits(max_open_colonies=2)) as service:
        await ready(service)
        for name in ("a", "b", "c"):
            await service.create(name, None)
        assert service.open_colonies == 0, "nothing opens before it is used"
        await service.stats("a", None)
        await service.stats("b", None)
        assert service.open_colonies == 2
        await service.stats("c", None)
        assert service.open_colonies == 2, "the bound holds: the least recently used idle colony (a) was closed"
        async with service.admitted("turn", "b", None, "hold b", ("haiku",)), \
                service.admitted("turn", "c", None, "hold c", ("haiku",)):
            with pytest.raises(ServiceBusy, match="all in use"):
                await service.stats("a", None)
            with pytest.raises(ColonyBusy):
                await service.remove("b", None)
        await service.remove("b", None)
        with pytest.raises(ColonyNotFound):
            await service.stats("b", None)


async def test_idle_colonies_close(tmp_path: Path, standin: str) -> None:
    config = Config.load(tmp_path / "home", llm_url=standin)
    async with ColonyService.open(config, ServiceLimits(idle_close_s=0.2)) as service:
        await ready(service)
        await service.stats("default", None)
        assert service.open_colonies == 1
        deadline = time.monotonic() + 30
        while service.open_colonies and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert service.open_colonies == 0


async def test_owners_see_only_their_own_colonies(tmp_path: Path, standin: str) -> None:
    config = Config.load(tmp_path / "home", llm_url=standin)
    async with ColonyService.open(config) as service:
        await ready(service)
        mine = await service.create(None, "owner-a")
        assert mine.name.startswith("c-") and mine.owner == "owner-a"
        assert [info.name for info in await service.colonies("owner-a")] == [mine.name]
        assert await service.colonies("owner-b") == []
        for call in (service.stats(mine.name, "owner-b"), service.history(mine.name, "owner-b"),
                     service.fork(mine.name, None, "owner-b"), service.remove(mine.name, "owner-b"),
                     service.cascade(mine.name, "owner-b", "let me in")):
            with pytest.raises(ColonyNotFound):
                await call
        turn = await service.turn(mine.name, "owner-a", "haiku", "a turn of my own", seed=1)
        assert turn.text and turn.error is None


def test_admission_refuses_beyond_its_bounds_and_gives_back_its_places() -> None:
    admission = Admission(ServiceLimits(max_active=3, max_waiting_per_organism=1))
    with admission.admit("cascade", "a", ("haiku", "prose")), admission.admit("cascade", "a", ("haiku", "prose")):
        assert admission.active == 2 and admission.waiting == 2
        with pytest.raises(ServiceBusy, match="already running or waiting for haiku, prose"):
            with admission.admit("cascade", "a", ("haiku", "prose")):
                pass
        with admission.admit("turn", "b", ("haiku",)):
            with pytest.raises(ServiceBusy, match="3 requests are running"):
                with admission.admit("turn", "c", ("sonnet",)):
                    pass
    assert admission.active == 0 and admission.waiting == 0 and admission.rejected == 2
    with admission.admit("turn", "a", ("haiku",)):
        pass
