"""Schemathesis hooks for the gateway run (loaded through ``hooks`` in schemathesis.toml).

Two request parts name server state the generator cannot know, and the
gateway refuses a well-formed but unknown value there on purpose, so
``positive_data_acceptance`` would report the documented refusal as a bug:

- ``Idempotency-Key`` names one request: the same key with another request
  is ``422 idempotency_key_reused``. Drawn keys repeat ("0", the schema's
  boundary values), so a valid one gets a per-call suffix.
- ``upload_ids`` must name uploads of this API key (``422 validation_error``
  otherwise). The harness uploads one file first and passes its id in
  ``GATEWAY_UPLOAD_ID``; each well-formed drawn id becomes that one.

Values the schema forbids are left as drawn, so the negative cases still
reach the server as generated.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import MutableMapping
from typing import Any

import schemathesis

IDEMPOTENCY_KEY = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# openapi.yaml, components/parameters/IdempotencyKey.
_KEY_PATTERN = re.compile(r"[!-~]([ -~]*[!-~])?")
MAX_UPLOAD_ID_LENGTH = 64
_calls = itertools.count()


def _unique_key(headers: MutableMapping[str, Any]) -> None:
    key = headers.get(IDEMPOTENCY_KEY)
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY_PATTERN.fullmatch(key):
        return
    suffix = f".{next(_calls)}"
    headers[IDEMPOTENCY_KEY] = key[: MAX_KEY_LENGTH - len(suffix)] + suffix


def _known_uploads(body: dict[str, Any]) -> None:
    upload_id = os.environ.get("GATEWAY_UPLOAD_ID")
    ids = body.get("upload_ids")
    if not upload_id or not isinstance(ids, list):
        return
    body["upload_ids"] = [
        upload_id if isinstance(i, str) and 1 <= len(i) <= MAX_UPLOAD_ID_LENGTH else i for i in ids
    ]


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    # Headers come as a case-insensitive mapping, not a dict.
    if isinstance(case.headers, MutableMapping):
        _unique_key(case.headers)
    if isinstance(case.body, dict):
        _known_uploads(case.body)
