"""Preconditions and ranges on a file download (RFC 9110 sections 13 and 14).

Werkzeug's ``make_conditional`` does the ETag, ``If-None-Match`` and single
byte-range work; two cases are settled here first, where it would answer
wrongly:

- ``If-Match`` that does not match is a 412 *problem*, decided before any
  range (Werkzeug sends the file as the 412's body, or a 206 if a Range came
  along);
- a ``Range`` header the server does not use (bad syntax, a unit other than
  ``bytes``, several ranges) is ignored and the whole file served with 200,
  as section 14.2 asks; Werkzeug would answer 416. A well-formed single range
  outside the file stays a 416 with ``Content-Range: bytes */<length>``.
"""

from __future__ import annotations

from typing import Any

from flask import Request, Response
from werkzeug.http import parse_range_header

from gateway.api.errors import ApiError


def answer_conditionally(response: Response, request: Request, length: int) -> Response:
    """``response`` (the whole file, with its ETag) made conditional to ``request``."""
    _check_if_match(response, request)
    environ: dict[str, Any] = dict(request.environ)
    # Settled above; Werkzeug would also answer "If-Match: *" with a 412.
    environ.pop("HTTP_IF_MATCH", None)
    if not usable_range(environ.get("HTTP_RANGE")):
        environ.pop("HTTP_RANGE", None)
    try:
        return response.make_conditional(environ, accept_ranges=True, complete_length=length)
    except Exception:
        response.close()  # the file handle: a 416 or any failure sends no body
        raise


def usable_range(header: str | None) -> bool:
    """True for one well-formed byte range (satisfiable or not); else the header is ignored."""
    parsed = parse_range_header(header)
    return parsed is not None and parsed.units == "bytes" and len(parsed.ranges) == 1


def _check_if_match(response: Response, request: Request) -> None:
    wanted = request.if_match  # empty when the header is absent
    if not wanted:
        return
    etag, _weak = response.get_etag()
    if etag is not None and wanted.contains(etag):  # strong comparison, or "*"
        return
    response.close()
    current = response.headers.get("ETag")
    raise ApiError(
        "precondition_failed",
        "If-Match does not match the video's current ETag.",
        headers={"ETag": current} if current else {},
    )
