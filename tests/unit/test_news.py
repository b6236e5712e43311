"""StreamNews.watch: a wait for events to come back from the log, fed by the consumer's commits."""

import asyncio

from services.kit.news import StreamNews


async def test_a_watch_ends_once_every_awaited_event_is_consumed_on_its_stream():
    news = StreamNews()
    with news.watch("rx-1") as consumed:
        news.arrived([("rx-1", "claim")])  # consumed while the database was being read: kept
        waiting = asyncio.create_task(consumed.all_of({"claim", "release"}, 5))
        await asyncio.sleep(0.01)
        news.arrived([("rx-2", "release"), ("rx-1", "other")])  # another stream's: not ours
        await asyncio.sleep(0.01)
        assert not waiting.done()
        news.arrived([("rx-1", "release")])
        assert await asyncio.wait_for(waiting, 1) is True
    assert news._watches == {}


async def test_a_watch_with_nothing_to_wait_for_answers_at_once_and_one_that_runs_out_says_so():
    news = StreamNews()
    with news.watch("rx-1") as consumed:
        assert await consumed.all_of([], 0) is True
        assert await consumed.all_of(["claim"], 0.05) is False
    with news.watch("rx-1") as one, news.watch("rx-1") as two:
        news.arrived([("rx-1", "claim")])
        assert await one.all_of(["claim"], 0) and await two.all_of(["claim"], 0)
    assert news._watches == {}
