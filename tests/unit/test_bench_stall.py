"""The benchmark stops a run that no longer keeps its own pace, instead of crawling on."""

from __future__ import annotations

import asyncio

from benchmarks.driver import Driver
from benchmarks.pipeline import _per_window


async def test_a_run_that_delivers_nothing_for_stall_s_is_stopped_and_says_so():
    driver = Driver({}, {}, log=None, step_timeout_s=3600)  # type: ignore[arg-type]
    forever = asyncio.Event()

    async def stuck(_: int) -> str | None:  # a prescription the stack never moves on
        await forever.wait()
        return "never"

    driver.play = stuck  # type: ignore[method-assign]
    results = await asyncio.wait_for(driver.run(8, None, 3, stall_s=0.4), timeout=10)
    assert results == [None] * 8
    assert driver.stats.stopped is not None
    assert "0 delivered, 8 abandoned or never started" in driver.stats.stopped


async def test_a_run_that_slows_to_a_crawl_is_stopped():
    driver = Driver({}, {}, log=None, step_timeout_s=3600)  # type: ignore[arg-type]

    async def slowing(n: int) -> str | None:  # 60 quick ones, then a tenth of the pace
        await asyncio.sleep(0.01 if len(driver.stats.done_at_client) < 60 else 0.1)
        driver.stats.done_at_client[str(n)] = 0.0
        return str(n)

    driver.play = slowing  # type: ignore[method-assign]
    results = await asyncio.wait_for(driver.run(2_000, None, 1, stall_s=0.3), timeout=30)
    assert driver.stats.stopped is not None
    delivered = [r for r in results if r is not None]
    assert 60 <= len(delivered) < 200 and results[-1] is None


async def test_a_run_that_keeps_delivering_is_not_stopped():
    driver = Driver({}, {}, log=None, step_timeout_s=3600)  # type: ignore[arg-type]

    async def quick(n: int) -> str | None:
        await asyncio.sleep(0.05)
        driver.stats.done_at_client[str(n)] = 0.0
        return str(n)

    driver.play = quick  # type: ignore[method-assign]
    results = await driver.run(30, None, 2, stall_s=0.4)  # 15 rounds of 50 ms: longer than stall_s
    assert results == [str(n) for n in range(30)] and driver.stats.stopped is None


def test_deliveries_are_counted_per_window_from_the_start():
    assert _per_window([100.5, 101.0, 112.0, 135.0], 100.0, 10.0) == [2, 1, 0, 1]
    assert _per_window([], 100.0, 10.0) == []
