"""What a write relayed by the S3 front did to the objects it lists, when that is known for sure."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from aiohttp import web
from multidict import CIMultiDict

from infra.s3_listing import contents


class _Unchanged:
    """A write S3 refused (4xx): nothing was stored or deleted."""


class _Unknown:
    """A write whose effect is not known (an upstream error, a broken connection, a POST)."""


UNCHANGED, UNKNOWN = _Unchanged(), _Unknown()
DELETED = None  # the outcome of a DELETE that succeeded: no entry left
# An object's new <Contents>, DELETED, UNCHANGED, or UNKNOWN.
Outcome = str | None | _Unchanged | _Unknown


def write_outcome(request: web.Request, key: str, data: bytes, status: int, headers: CIMultiDict[str]) -> Outcome:
    """What a relayed write did to the listings, when that is known for sure."""
    if 400 <= status < 500:
        return UNCHANGED  # S3 refuses a write before storing anything
    plain = not request.query_string and "x-amz-copy-source" not in request.headers
    if not (200 <= status < 300 and plain):  # an error, a part or a copy: not modelled
        return UNKNOWN
    if request.method == "DELETE":
        return DELETED
    size = request.headers.get("x-amz-decoded-content-length")
    chunked = "aws-chunked" in request.headers.get("Content-Encoding", "")
    etag = headers.get("ETag")
    if request.method != "PUT" or etag is None or (chunked and size is None):
        return UNKNOWN
    return contents(key, etag, int(size) if size is not None else len(data), _stored_at(headers))


def _stored_at(headers: CIMultiDict[str]) -> str:
    """When SeaweedFS stored an object, as a listing spells it (Tansu reads only keys and sizes)."""
    try:
        at = parsedate_to_datetime(headers.get("Last-Modified") or headers["Date"])
    except (KeyError, TypeError, ValueError):
        at = datetime.now(UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
