"""The S3 front's own copy of each listing Tansu asks for, kept current by the writes it relays.

Tansu LISTs a partition's batch objects on every fetch that finds new records, and every
produce adds one object and so changes that listing: at a steady, unsaturated rate nearly every
LIST came after a write, found no answer to reuse, and cost SeaweedFS about 10 µs per object,
a cost that grew with the log (at 20 prescriptions/s SeaweedFS took 0.6 of a core within a
minute). Every write passes through the front, so the front can keep the listing itself: it
loads it from SeaweedFS once, then applies each relayed write whose outcome it knows, and
answers LISTs from its copy.

Consistency. A write changes a listing here before its answer goes back to Tansu, so any LIST
Tansu sends after learning of a write shows it. A load (the LIST pages taken from SeaweedFS)
notes the writes that complete while it runs and applies them on top, as a LIST may or may not
show a write it raced. A write whose outcome is unknown (an upstream error, a broken
connection, a kind of request not modelled here) drops the listings it may touch: the next LIST
loads again from SeaweedFS. A listing dropped while its pages were being read still answers
the continuation tokens it handed out, like a LIST racing a write.
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.etree import ElementTree
from xml.sax.saxutils import escape

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_KEYS = 1000  # the most S3 puts in one page
TOKEN_MARK = "rxflow-"  # begins the continuation tokens made here (SeaweedFS's never do)
MAX_LOADS = 4  # per listing at once: a reader that stops paging leaves its load behind
# What a ListObjectsV2 query may carry for a kept listing to answer it; anything else (a
# delimiter, URL-encoded keys, owners) goes to SeaweedFS.
ANSWERABLE = frozenset({"list-type", "prefix", "continuation-token", "start-after", "max-keys"})
Where = tuple[str, str]  # (bucket, prefix)


def answerable(query: Mapping[str, str]) -> bool:
    """Whether a kept listing can answer a ListObjectsV2 query with these parameters."""
    return set(query) <= ANSWERABLE


def contents(key: str, etag: str, size: int, last_modified: str) -> str:
    """One object's <Contents> element, as every answer made here spells it."""
    return (f"<Contents><Key>{escape(key)}</Key><LastModified>{escape(last_modified)}</LastModified>"
            f"<ETag>{escape(etag)}</ETag><Size>{size}</Size></Contents>")


@dataclass(frozen=True)
class Page:
    """One page of SeaweedFS's answer to a LIST: its objects and where the next page starts."""

    entries: list[tuple[str, str]]  # (key, <Contents> as contents() spells it)
    next_token: str | None


def parse_page(body: bytes) -> Page:
    """Read a ListObjectsV2 answer (raises ValueError when it is not one)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise ValueError(f"not XML: {error}") from error
    if root.tag != f"{{{S3_NS}}}ListBucketResult":
        raise ValueError(f"not a ListBucketResult: {root.tag}")

    def text(element: ElementTree.Element, name: str) -> str:
        found = element.find(f"{{{S3_NS}}}{name}")
        if found is None or found.text is None:
            raise ValueError(f"no {name}")
        return found.text

    entries = [(key, contents(key, text(c, "ETag"), int(text(c, "Size")), text(c, "LastModified")))
               for c in root.iter(f"{{{S3_NS}}}Contents") for key in [text(c, "Key")]]
    truncated = root.findtext(f"{{{S3_NS}}}IsTruncated") == "true"
    token = root.findtext(f"{{{S3_NS}}}NextContinuationToken") if truncated else None
    if truncated and not token:
        raise ValueError("truncated without a continuation token")
    return Page(entries, token)


def token_for(key: str) -> str:
    return TOKEN_MARK + base64.urlsafe_b64encode(key.encode()).decode()


def key_of(token: str) -> str:
    """The key a token of ours continues after (ValueError for anything token_for did not make)."""
    key = base64.b64decode(token[len(TOKEN_MARK):], altchars=b"-_", validate=True).decode()
    if token_for(key) != token:
        raise ValueError(f"not a continuation token of the front: {token!r}")
    return key


@dataclass
class Listing:
    """Every object under one prefix, in key order."""

    keys: list[str] = field(default_factory=list)
    entries: dict[str, str] = field(default_factory=dict)

    def put(self, key: str, entry: str) -> None:
        if key not in self.entries:
            if not self.keys or key > self.keys[-1]:
                self.keys.append(key)  # a new batch object: its offset is the highest yet
            else:
                bisect.insort(self.keys, key)
        self.entries[key] = entry

    def delete(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            self.keys.pop(bisect.bisect_left(self.keys, key))

    def apply(self, key: str, entry: str | None) -> None:
        """A write's outcome: the object's entry, or None when it was deleted."""
        if entry is None:
            self.delete(key)
        else:
            self.put(key, entry)

    def answer(self, bucket: str, prefix: str, query: Mapping[str, str]) -> bytes:
        """The ListObjectsV2 answer to query, a page at a time, with tokens of our own."""
        token = query.get("continuation-token")
        after = key_of(token) if token else query.get("start-after", "")
        limit = max(0, min(int(query.get("max-keys", MAX_KEYS)), MAX_KEYS))
        first = bisect.bisect_right(self.keys, after) if after else 0
        keys = self.keys[first:first + limit]
        truncated = first + len(keys) < len(self.keys)
        head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{S3_NS}">'
                f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>")
        if token:
            head += f"<ContinuationToken>{escape(token)}</ContinuationToken>"
        elif after:
            head += f"<StartAfter>{escape(after)}</StartAfter>"
        tail = f"<NextContinuationToken>{token_for(keys[-1])}</NextContinuationToken>" if truncated and keys else ""
        return "".join((head, f"<MaxKeys>{limit}</MaxKeys><IsTruncated>{str(truncated).lower()}</IsTruncated>",
                        *(self.entries[k] for k in keys), tail, f"<KeyCount>{len(keys)}</KeyCount>",
                        "</ListBucketResult>")).encode()


@dataclass
class _Load:
    """A listing being read from SeaweedFS, page by page, and the writes completed meanwhile."""

    listing: Listing = field(default_factory=Listing)
    journal: list[tuple[str, str | None]] = field(default_factory=list)  # (key, entry, or None: deleted)
    broken: bool = False  # a write of unknown outcome completed meanwhile
    waiting_for: str | None = None  # the continuation token of its next page


@dataclass
class Listings:
    """The listings the front keeps, by (bucket, prefix)."""

    ready: dict[Where, Listing] = field(default_factory=dict)
    retired: dict[Where, Listing] = field(default_factory=dict)  # dropped; still answer their tokens
    loads: dict[int, tuple[Where, _Load]] = field(default_factory=dict)  # by id: a load's handle
    dropped: int = 0  # listings dropped by a write of unknown outcome
    _next_id: int = 0

    def answer(self, bucket: str, prefix: str, query: Mapping[str, str]) -> bytes | None:
        """The answer from a kept listing, or None: SeaweedFS must answer (and may be loaded from)."""
        if not answerable(query):
            return None
        token = query.get("continuation-token")
        if token and not token.startswith(TOKEN_MARK):
            return None  # a page of SeaweedFS's own, asked for before the listing was kept
        listing = self.ready.get((bucket, prefix))
        if token and listing is None:
            listing = self.retired.get((bucket, prefix))
        try:
            return None if listing is None else listing.answer(bucket, prefix, query)
        except ValueError:  # a token or max-keys that does not parse: SeaweedFS says what is wrong
            return None

    def begin(self, bucket: str, prefix: str) -> int:
        """Start loading a listing (its first page is being asked for); returns its handle."""
        where = (bucket, prefix)
        mine = [handle for handle, (w, _) in self.loads.items() if w == where]
        for handle in mine[:len(mine) + 1 - MAX_LOADS]:  # loads whose next page was never asked for
            del self.loads[handle]
        self._next_id += 1
        self.loads[self._next_id] = (where, _Load())
        return self._next_id

    def resume(self, bucket: str, prefix: str, token: str) -> int | None:
        """The load whose next page a LIST with SeaweedFS's token asks for, if one is."""
        for handle, (where, load) in self.loads.items():
            if where == (bucket, prefix) and load.waiting_for == token:
                load.waiting_for = None  # one reader takes it on; another asking the same gets None
                return handle
        return None

    def loaded(self, handle: int, page: Page | None) -> None:
        """A page of a load came (None: it failed). After its last page, a load that no write of
        unknown outcome broke becomes the kept listing, with the writes it raced applied on top."""
        if handle not in self.loads:
            return  # dropped meanwhile
        where, load = self.loads[handle]
        if page is None or load.broken:
            del self.loads[handle]
            return
        for key, entry in page.entries:
            load.listing.put(key, entry)
        if page.next_token is not None:
            load.waiting_for = page.next_token  # Tansu asks for the next page with it
            return
        for key, done in load.journal:
            load.listing.apply(key, done)
        self.ready[where] = load.listing
        self.retired.pop(where, None)
        for other in [h for h, (w, _) in self.loads.items() if w == where]:
            del self.loads[other]

    def put(self, bucket: str, key: str, entry: str) -> None:
        """An object was stored (the write succeeded)."""
        self._apply(bucket, key, entry)

    def delete(self, bucket: str, key: str) -> None:
        """An object was deleted (or was not there)."""
        self._apply(bucket, key, None)

    def unknown(self, bucket: str, key: str) -> None:
        """A write under key may or may not have happened, or did something not modelled here.
        An empty key is a bucket-wide request (a multi-object delete): every listing is dropped."""
        for where in [w for w in self.ready if _covers(w, bucket, key)]:
            self.retired[where] = self.ready.pop(where)
            self.dropped += 1
        for where, load in self.loads.values():
            if _covers(where, bucket, key):
                load.broken = True

    def _apply(self, bucket: str, key: str, entry: str | None) -> None:
        for where, listing in self.ready.items():
            if _covers(where, bucket, key):
                listing.apply(key, entry)
        for where, load in self.loads.values():
            if _covers(where, bucket, key):
                load.journal.append((key, entry))


def _covers(where: Where, bucket: str, key: str) -> bool:
    return where[0] == bucket and (not key or key.startswith(where[1]))
