"""Check HTTP exchanges against ``openapi.yaml``: any test can assert the contract.

``SPEC.check_exchange(...)`` validates one request/response pair: the
response always (status documented, or ``default``; media type; body schema;
required and declared headers), the request when the response is a success
(a 2xx or 3xx to a request the spec forbids means the server or the spec is
wrong; a 4xx to a bad request is the point of many tests).

Helpers for the two clients the tests use: ``check_flask(response)`` for the
Flask test client and ``check_httpx(response)`` for httpx against a live
server. Schemas are checked with ``openapi-schema-validator`` (OAS 3.1
dialect, formats such as ``date-time`` included).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import yaml
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"
_SPEC_URI = "urn:nemo-gateway:openapi"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class ContractError(AssertionError):
    """An exchange that does not match the spec."""


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: Mapping[str, str]
    request_headers: Mapping[str, str]
    request_body: bytes
    status: int
    headers: Mapping[str, str]
    body: bytes

    def describe(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


class OpenApiSpec:
    def __init__(self, path: Path = SPEC_PATH) -> None:
        self.document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(_SPEC_URI, resource)

    @cached_property
    def routes(self) -> list[tuple[re.Pattern[str], str]]:
        out = []
        for template in self.document["paths"]:
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            out.append((re.compile(f"^{pattern}$"), template))
        # Literal paths before templated ones, as routers do.
        return sorted(out, key=lambda item: item[1].count("{"))

    def operations(self) -> set[tuple[str, str]]:
        """Every (METHOD, path template) the spec documents."""
        return {
            (method.upper(), template)
            for template, item in self.document["paths"].items()
            for method in item
            if method in _METHODS
        }

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        for pattern, template in self.routes:
            found = pattern.match(path)
            if found:
                return template, found.groupdict()
        return None

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def validate(self, schema: dict[str, Any], value: Any, where: str) -> None:
        validator = OAS31Validator(
            schema, registry=self._registry, format_checker=OAS31Validator.FORMAT_CHECKER
        )
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
        if errors:
            lines = [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:5]]
            raise ContractError(f"{where}:\n  " + "\n  ".join(lines))

    def schema_ref(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Make local ``#/...`` references resolvable from a fragment of the document."""
        return json.loads(json.dumps(schema).replace('"#/', f'"{_SPEC_URI}#/'))

    # -- exchanges -------------------------------------------------------------

    def check_exchange(self, ex: Exchange) -> None:
        matched = self.match(ex.path)
        if matched is None:
            # Not a documented path: only the generic problem answer is acceptable.
            problem = self.document["components"]["responses"]["Problem"]
            self._check_response_object(ex, problem, f"{ex.describe()} (undocumented path)")
            return
        template, params = matched
        item = self.document["paths"][template]
        operation = item.get(ex.method.lower())
        if operation is None:
            if ex.status != 405:
                raise ContractError(f"{ex.describe()}: method not documented for {template}")
            problem = self.document["components"]["responses"]["Problem"]
            self._check_response_object(ex, problem, ex.describe())
            return
        self._check_response(ex, operation)
        if ex.status < 400:
            self._check_request(ex, item, operation, params)

    def _check_response(self, ex: Exchange, operation: dict[str, Any]) -> None:
        responses = operation["responses"]
        spec = responses.get(str(ex.status)) or responses.get("default")
        if spec is None:
            raise ContractError(f"{ex.describe()}: status not documented")
        self._check_response_object(ex, self.resolve(spec), ex.describe())

    def _check_response_object(self, ex: Exchange, spec: dict[str, Any], where: str) -> None:
        spec = self.resolve(spec)
        headers = {k.lower(): v for k, v in ex.headers.items()}
        for name, header in (spec.get("headers") or {}).items():
            header = self.resolve(header)
            value = headers.get(name.lower())
            if value is None:
                if header.get("required"):
                    raise ContractError(f"{where}: missing required header {name}")
                continue
            self.validate(
                self.schema_ref(header.get("schema", {})), value, f"{where} header {name}"
            )
        content = spec.get("content")
        if not content:
            if ex.body:
                raise ContractError(f"{where}: a body where the spec documents none")
            return
        media_type = headers.get("content-type", "").split(";")[0].strip()
        if media_type not in content:
            raise ContractError(f"{where}: media type {media_type!r} not in {sorted(content)}")
        if "json" in media_type:
            schema = self.schema_ref(content[media_type].get("schema", {}))
            self.validate(schema, json.loads(ex.body), f"{where} body")

    def _check_request(
        self,
        ex: Exchange,
        item: dict[str, Any],
        operation: dict[str, Any],
        path_params: dict[str, str],
    ) -> None:
        where = f"{ex.describe()} request"
        params = [
            self.resolve(p) for p in item.get("parameters", []) + operation.get("parameters", [])
        ]
        headers = {k.lower(): v for k, v in ex.request_headers.items()}
        sources = {"path": path_params, "query": ex.query, "header": headers}
        documented_query = {p["name"] for p in params if p["in"] == "query"}
        unknown = set(ex.query) - documented_query
        if unknown:
            raise ContractError(f"{where}: undocumented query parameters {sorted(unknown)}")
        for param in params:
            key = param["name"].lower() if param["in"] == "header" else param["name"]
            value = sources.get(param["in"], {}).get(key)
            if value is None:
                if param.get("required"):
                    raise ContractError(f"{where}: missing {param['in']} parameter {param['name']}")
                continue
            schema = self.schema_ref(param.get("schema", {}))
            self.validate(schema, _coerce(schema, value), f"{where} {param['name']}")
        body_spec = operation.get("requestBody")
        media_type = headers.get("content-type", "").split(";")[0].strip()
        if body_spec is not None and ex.request_body and "json" in media_type:
            schema = self.resolve(body_spec)["content"]["application/json"]["schema"]
            self.validate(self.schema_ref(schema), json.loads(ex.request_body), f"{where} body")


def _coerce(schema: dict[str, Any], value: str) -> Any:
    """Query and header values arrive as text; integers are documented as integers."""
    if schema.get("type") == "integer" and value.lstrip("-").isdigit():
        return int(value)
    return value


SPEC = OpenApiSpec()


def check_flask(response: Any) -> None:
    """Validate a Flask test-client response (``response.request`` is the request)."""
    request = response.request
    SPEC.check_exchange(
        Exchange(
            method=request.method,
            path=request.path,
            query=dict(request.args),
            request_headers=dict(request.headers),
            request_body=_sent_body(request.environ),
            status=response.status_code,
            headers=dict(response.headers),
            body=response.get_data(),
        )
    )


def _sent_body(environ: Mapping[str, Any]) -> bytes:
    # The app already consumed the input stream; the test client's is a BytesIO.
    stream = environ.get("wsgi.input")
    if stream is None or not hasattr(stream, "seek"):
        return b""
    stream.seek(0)
    return stream.read()


def check_httpx(response: Any) -> None:
    """Validate an ``httpx.Response`` (read it first if it was streamed)."""
    request = response.request
    SPEC.check_exchange(
        Exchange(
            method=request.method,
            path=request.url.path,
            query=dict(parse_qsl(request.url.query.decode())),
            request_headers=dict(request.headers),
            request_body=_httpx_body(request),
            status=response.status_code,
            headers=dict(response.headers),
            body=response.content,
        )
    )


def _httpx_body(request: Any) -> bytes:
    # A streamed upload (multipart from a file) was never held whole: nothing to check.
    try:
        return request.content
    except httpx.RequestNotRead:
        return b""
