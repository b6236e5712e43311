"""What the S3 front keeps: listings (infra/s3_listing.py), loaded once, kept current by the
writes it relays, answered a page at a time, and dropped when a write's outcome is not known;
and batch objects (infra/s3_objects.py), until a write to them."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from infra.s3_list_cache import _bucket_and_key
from infra.s3_listing import MAX_KEYS, S3_NS, Listings, Page, contents, parse_page
from infra.s3_objects import ObjectCache, StoredObject, kept_kind
from infra.s3_writes import DELETED, UNCHANGED, UNKNOWN, write_outcome

RECORDS = "clusters/c/topics/rx.events/partitions/0000000000/records/"
QUERY = {"list-type": "2", "prefix": RECORDS}


def key(offset: int, prefix: str = RECORDS) -> str:
    return f"{prefix}{offset:020}.batch"


def entry(offset: int, size: int = 75) -> str:
    return contents(key(offset), f'"etag-{offset}"', size, "2026-11-24T00:38:01.000Z")


def page(*offsets: int, next_token: str | None = None) -> Page:
    return Page([(key(o), entry(o)) for o in offsets], next_token)


def kept(listings: Listings, *offsets: int) -> Listings:
    """listings with the records listing loaded from SeaweedFS, in one page."""
    listings.loaded(listings.begin("tansu", RECORDS), page(*offsets))
    return listings


def read_all(listings: Listings, **query: Any) -> list[str]:
    """Every key of the records listing, following the continuation tokens page by page."""
    keys: list[str] = []
    ask = {**QUERY, **{k.replace("_", "-"): str(v) for k, v in query.items()}}
    while True:
        body = listings.answer("tansu", RECORDS, ask)
        assert body is not None
        got = parse_page(body)
        keys += [k for k, _ in got.entries]
        if got.next_token is None:
            return keys
        ask = {**ask, "continuation-token": got.next_token}


def test_an_answer_from_a_kept_listing_reads_as_seaweedfs_would_write_it() -> None:
    listings = kept(Listings(), 0, 3, 7)
    got = parse_page(listings.answer("tansu", RECORDS, QUERY) or b"")
    assert got == Page([(key(o), entry(o)) for o in (0, 3, 7)], None)


def test_a_kept_listing_follows_puts_and_deletes_under_its_prefix_only() -> None:
    listings = kept(Listings(), 0, 3)
    listings.put("tansu", key(7), entry(7))
    listings.put("tansu", key(3), entry(3, size=99))  # replaced: the new size is listed
    listings.delete("tansu", key(0))
    listings.put("tansu", "clusters/c/groups/consumers/review.json", "<Contents/>")  # heartbeats
    listings.put("tansu", key(9, RECORDS.replace("0000000000", "0000000001")), entry(9))
    listings.put("other", key(8), entry(8))
    assert read_all(listings) == [key(3), key(7)]
    assert dict(parse_page(listings.answer("tansu", RECORDS, QUERY) or b"").entries)[key(3)] == entry(3, size=99)


def test_pages_follow_max_keys_and_tokens_and_cover_every_key_once() -> None:
    listings = kept(Listings(), *range(0, 2500, 1))
    assert read_all(listings) == [key(o) for o in range(2500)]
    first = parse_page(listings.answer("tansu", RECORDS, QUERY) or b"")
    assert len(first.entries) == MAX_KEYS and first.next_token
    assert read_all(listings, max_keys=7) == [key(o) for o in range(2500)]
    assert read_all(listings, start_after=key(2490)) == [key(o) for o in range(2491, 2500)]


def test_nothing_is_answered_before_a_listing_is_loaded_or_for_queries_it_cannot_answer() -> None:
    listings = Listings()
    assert listings.answer("tansu", RECORDS, QUERY) is None
    kept(listings, 0)
    assert listings.answer("tansu", RECORDS, {**QUERY, "delimiter": "/"}) is None
    assert listings.answer("tansu", RECORDS, {**QUERY, "encoding-type": "url"}) is None
    assert listings.answer("tansu", RECORDS, {**QUERY, "continuation-token": "seaweed's"}) is None
    assert listings.answer("tansu", "clusters/", {**QUERY, "prefix": "clusters/"}) is None
    assert listings.answer("tansu", RECORDS, {**QUERY, "continuation-token": "rxflow-%%%"}) is None
    assert listings.answer("tansu", RECORDS, {**QUERY, "max-keys": "many"}) is None


def test_a_load_applies_the_writes_completed_while_it_ran() -> None:
    # SeaweedFS's answer may or may not show a write that raced it: the load applies it again.
    listings = Listings()
    load = listings.begin("tansu", RECORDS)
    listings.put("tansu", key(5), entry(5))  # completed while the LIST was out, not in its answer
    listings.delete("tansu", key(1))  # in its answer, deleted meanwhile
    listings.loaded(load, page(0, 1))
    assert read_all(listings) == [key(0), key(5)]


def test_a_listing_is_loaded_over_several_pages_of_seaweedfs() -> None:
    listings = Listings()
    load = listings.begin("tansu", RECORDS)
    listings.loaded(load, page(0, 1, next_token="seaweed-2"))
    assert listings.answer("tansu", RECORDS, QUERY) is None  # not whole yet
    assert listings.resume("tansu", RECORDS, "seaweed-1") is None
    again = listings.resume("tansu", RECORDS, "seaweed-2")
    assert again == load and listings.resume("tansu", RECORDS, "seaweed-2") is None  # one reader carries it
    listings.put("tansu", key(4), entry(4))
    listings.loaded(load, page(2, 3))
    assert read_all(listings) == [key(o) for o in range(5)]
    assert not listings.loads


def test_a_write_of_unknown_outcome_drops_the_listing_and_breaks_loads() -> None:
    listings = kept(Listings(), 0, 1)
    token = parse_page(listings.answer("tansu", RECORDS, {**QUERY, "max-keys": "1"}) or b"").next_token
    load = listings.begin("tansu", RECORDS)
    listings.unknown("tansu", key(2))  # a 5xx, or Tansu hung up: key(2) may or may not exist now
    assert listings.answer("tansu", RECORDS, QUERY) is None  # the next LIST asks SeaweedFS
    # The tokens handed out before still page on through what was kept, as a racing LIST would.
    assert parse_page(listings.answer("tansu", RECORDS, {**QUERY, "continuation-token": token or ""}) or b"").entries
    listings.loaded(load, page(0, 1))  # taken while key(2) was unknown: not kept
    assert listings.answer("tansu", RECORDS, QUERY) is None
    kept(listings, 0, 1, 2)
    assert read_all(listings) == [key(0), key(1), key(2)] and listings.dropped == 1


def test_a_bucket_wide_request_drops_every_listing_of_the_bucket() -> None:
    listings = kept(Listings(), 0)
    listings.unknown("other", "")
    assert listings.answer("tansu", RECORDS, QUERY) is not None
    listings.unknown("tansu", "")  # a multi-object delete names no key
    assert listings.answer("tansu", RECORDS, QUERY) is None


def test_loads_whose_next_page_is_never_asked_for_are_let_go() -> None:
    listings = Listings()
    for n in range(10):
        listings.loaded(listings.begin("tansu", RECORDS), page(n, next_token=f"t{n}"))
    assert len(listings.loads) <= 4


def test_seaweedfs_answers_are_read_with_their_continuation() -> None:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{S3_NS}"><Name>tansu</Name>'
            f"<Prefix>{RECORDS}</Prefix><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
            f"<Contents><Key>{key(0)}</Key><ETag>&#34;etag-0&#34;</ETag><Size>75</Size>"
            "<StorageClass>STANDARD</StorageClass><LastModified>2026-11-24T00:38:01.000Z</LastModified></Contents>"
            "<NextContinuationToken>abc</NextContinuationToken><KeyCount>1</KeyCount></ListBucketResult>").encode()
    assert parse_page(body) == Page([(key(0), entry(0))], "abc")
    for bad in (b"<nope", b"<Error><Code>AccessDenied</Code></Error>"):
        try:
            parse_page(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was read as a listing")


def test_paths_name_bucket_and_key() -> None:
    assert _bucket_and_key("/tansu/" + key(3)) == ("tansu", key(3))
    assert _bucket_and_key("/tansu") == ("tansu", "")


def test_a_write_reaches_every_listing_whose_prefix_covers_it() -> None:
    listings = kept(Listings(), 0)
    listings.loaded(listings.begin("tansu", "clusters/c/"), Page([], None))
    listings.put("tansu", key(1), entry(1))
    wide = parse_page(listings.answer("tansu", "clusters/c/", {**QUERY, "prefix": "clusters/c/"}) or b"")
    assert [k for k, _ in wide.entries] == [key(1)] and read_all(listings) == [key(0), key(1)]


def test_batch_objects_are_kept_until_a_write_to_them_and_within_a_budget() -> None:
    cache = ObjectCache(budget=10)
    batch = StoredObject(CIMultiDict({"ETag": '"e"'}), b"12345")
    cache.keep("tansu", key(0), batch)
    assert cache.get("tansu", key(0)) is batch and cache.hits == 1
    cache.drop("tansu", key(0))  # a topic deleted and its offsets written again
    assert cache.get("tansu", key(0)) is None
    for n in range(3):
        cache.keep("tansu", key(n), batch)
    assert cache.get("tansu", key(0)) is None and cache.get("tansu", key(2)) is batch  # oldest let go
    cache.drop("tansu", "")  # bucket-wide
    assert cache.get("tansu", key(2)) is None


def test_only_plain_gets_of_batch_objects_are_answered_from_a_copy() -> None:
    assert kept_kind(key(0), {"Authorization": "AWS4..."}, "")
    assert not kept_kind(key(0), {"Range": "bytes=0-9"}, "")
    assert not kept_kind(key(0), {"If-None-Match": '"e"'}, "")
    assert not kept_kind(key(0), {}, "versionId=3")
    assert not kept_kind("clusters/c/topics/rx.events/partitions/0000000000/watermark.json", {}, "")


def test_what_a_relayed_write_did_is_only_taken_as_known_when_it_is() -> None:
    def outcome(method: str, status: int, path: str = "/tansu/" + key(4), **headers: str) -> object:
        request = make_mocked_request(method, path, headers=headers)
        answer = CIMultiDict({"ETag": '"e4"', "Date": "Tue, 24 Nov 2026 00:38:01 GMT"})
        return write_outcome(request, _bucket_and_key(request.path)[1], b"x" * 75, status, answer)

    assert outcome("PUT", 200) == contents(key(4), '"e4"', 75, "2026-11-24T00:38:01.000Z")
    assert outcome("PUT", 200, **{"x-amz-decoded-content-length": "70", "Content-Encoding": "aws-chunked"}) \
        == contents(key(4), '"e4"', 70, "2026-11-24T00:38:01.000Z")
    assert outcome("PUT", 412) is UNCHANGED  # If-None-Match: * refused, the object was there
    assert outcome("DELETE", 204) is DELETED
    assert outcome("PUT", 500) is UNKNOWN and outcome("PUT", 502) is UNKNOWN  # may or may not be stored
    assert outcome("PUT", 200, "/tansu/" + key(4) + "?partNumber=1&uploadId=u") is UNKNOWN
    assert outcome("PUT", 200, **{"x-amz-copy-source": "/tansu/" + key(1)}) is UNKNOWN
    assert outcome("POST", 200, "/tansu/" + key(4) + "?uploads") is UNKNOWN
