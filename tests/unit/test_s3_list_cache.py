"""When the S3 front may answer a LIST again, and when it must ask SeaweedFS (infra/s3_list_cache.py)."""

from __future__ import annotations

from multidict import CIMultiDict

from infra.s3_list_cache import ListCache, _bucket_and_key, _Listing

RECORDS = "clusters/c/topics/rx.events/partitions/0000000000/records/"
QUERY = f"list-type=2&prefix={RECORDS}"


def listing(cache: ListCache, body: bytes, bucket: str = "tansu", prefix: str = RECORDS) -> _Listing:
    """A LIST answer as it comes back from upstream, stamped when its request was sent."""
    return _Listing(cache.generation(bucket, prefix), 200, CIMultiDict(), body)


def test_a_listing_is_answered_again_until_a_write_under_its_prefix() -> None:
    cache = ListCache()
    assert cache.lookup("tansu", RECORDS, QUERY) is None
    cache.keep("tansu", RECORDS, QUERY, listing(cache, b"<one/>"))
    assert cache.lookup("tansu", RECORDS, QUERY).body == b"<one/>"  # type: ignore[union-attr]
    cache.wrote("tansu", RECORDS + "00000000000000000001.batch")
    assert cache.lookup("tansu", RECORDS, QUERY) is None
    assert cache.hits == 1


def test_writes_elsewhere_leave_the_listing() -> None:
    cache = ListCache()
    cache.keep("tansu", RECORDS, QUERY, listing(cache, b"<one/>"))
    cache.wrote("tansu", "clusters/c/groups/consumers/review.json")  # heartbeats and offset commits
    cache.wrote("tansu", RECORDS.replace("0000000000", "0000000001") + "00000000000000000007.batch")
    cache.wrote("other", RECORDS + "00000000000000000001.batch")
    assert cache.lookup("tansu", RECORDS, QUERY) is not None


def test_a_listing_sent_before_a_write_completed_is_not_kept() -> None:
    cache = ListCache()
    in_flight = listing(cache, b"<maybe without the new batch/>")
    cache.wrote("tansu", RECORDS + "00000000000000000001.batch")  # completes while the LIST is out
    cache.keep("tansu", RECORDS, QUERY, in_flight)
    assert cache.lookup("tansu", RECORDS, QUERY) is None
    after = listing(cache, b"<with it/>")
    cache.keep("tansu", RECORDS, QUERY, after)
    assert cache.lookup("tansu", RECORDS, QUERY) is after


def test_a_bucket_wide_write_drops_every_listing_of_the_bucket() -> None:
    cache = ListCache()
    cache.keep("tansu", RECORDS, QUERY, listing(cache, b"<one/>"))
    cache.keep("tansu", "", "list-type=2", listing(cache, b"<all/>", prefix=""))
    cache.wrote("tansu", "")  # POST /tansu?delete
    assert cache.lookup("tansu", RECORDS, QUERY) is None
    assert cache.lookup("tansu", "", "list-type=2") is None


def test_a_write_drops_the_listings_of_every_prefix_it_falls_under() -> None:
    cache = ListCache()
    cluster = "list-type=2&prefix=clusters/c/"
    cache.keep("tansu", RECORDS, QUERY, listing(cache, b"<partition/>"))
    cache.keep("tansu", "clusters/c/", cluster, listing(cache, b"<cluster/>", prefix="clusters/c/"))
    cache.wrote("tansu", RECORDS + "00000000000000000002.batch")
    assert cache.lookup("tansu", RECORDS, QUERY) is None
    assert cache.lookup("tansu", "clusters/c/", cluster) is None


def test_paths_are_read_path_style() -> None:
    assert _bucket_and_key("/tansu") == ("tansu", "")
    assert _bucket_and_key("/tansu/") == ("tansu", "")
    assert _bucket_and_key("/tansu/clusters/c/topics/rx.events.json") == ("tansu", "clusters/c/topics/rx.events.json")
