"""The OpenLineage HTTP endpoint: POST /api/v1/lineage (one event) and /api/v1/lineage/batch.

A plain Django view rather than DRF: it is the hot path, and every refusal needs its own precise
status and message. Order of checks: key (401), beta (403), content type and encoding (415),
size (413), JSON (400), contract (400), tenancy claims (403), capture rule (200 dropped).

For a key the process has authenticated before, a single event costs one INSERT that checks the
key and the beta itself (ingest.services.accept_one); any other outcome is answered by the precise
path, in the order above.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from clouds.keys import hash_key, looks_like_key
from clouds.models import IngestKey
from clouds.services import IngestKeyFacts, authenticate_ingest_key, known_ingest_key
from ingest.contract import (
    ContractError,
    EventInfo,
    decode_plain,
    decode_plain_element,
    parse_event,
    split_plain_array,
)
from ingest.gcpause import cyclic_gc_paused
from ingest.services import accept_events, accept_one

SPEC_DIR = Path(__file__).resolve().parent / "spec" / "facets"


class Refused(Exception):
    def __init__(self, status: int, error: str, detail: str, **extra: Any):
        self.status, self.error, self.detail, self.extra = status, error, detail, extra


def _error(status: int, error: str, detail: str, **extra: Any) -> JsonResponse:
    response = JsonResponse({"error": error, "detail": detail, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="lineage"'
    return response


def _secret(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    if not header:
        raise Refused(401, "missing_credentials", "Send your cloud's ingest key as `Authorization: Bearer <key>`.")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Refused(401, "malformed_credentials", "The Authorization header must be `Bearer <ingest key>`.")
    if not looks_like_key(secret):
        raise Refused(401, "malformed_credentials", "That is not an ingest key; keys look like `lk_xxxxxxxx_...`.")
    return secret


def _known_key(request: HttpRequest) -> IngestKeyFacts | None:
    """The remembered facts of the request's key, if it is well-formed and this process knows it."""
    try:
        return known_ingest_key(_secret(request))
    except Refused:
        return None


def _authenticate(request: HttpRequest) -> IngestKey:
    secret = _secret(request)
    key = authenticate_ingest_key(secret)
    if key is None:
        if IngestKey.objects.filter(key_hash=hash_key(secret), revoked_at__isnull=False).exists():
            raise Refused(401, "revoked_key", "This ingest key was revoked; ask a cloud owner for a new one.")
        raise Refused(401, "unknown_key", "This ingest key is not known; check OPENLINEAGE_API_KEY.")
    if not key.org.lineage_beta_enabled:
        raise Refused(403, "lineage_disabled",
                      f"Lineage is not enabled for organization {key.org.slug!r}; an org admin can enable the "
                      "lineage beta in the organization settings. Nothing was stored.")
    return key


def _read_body(request: HttpRequest, limit: int) -> bytes:
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise Refused(415, "unsupported_media_type",
                      f"Send the event as `Content-Type: application/json` (got {content_type or 'none'!r}).")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise Refused(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported; use gzip or none.")
    declared = request.META.get("CONTENT_LENGTH") or ""
    too_big = Refused(413, "payload_too_large", f"The body is larger than {limit} bytes (after decompression).",
                      limit_bytes=limit)
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise too_big
    if encoding == "gzip":
        # Inflate at most limit+1 bytes: a gzip bomb is refused without ever being expanded.
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise Refused(400, "bad_gzip", f"The body is not valid gzip: {exc}.") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise too_big
        if not inflater.eof:
            raise Refused(400, "bad_gzip", "The gzip body is truncated.")
        return body
    return raw


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _decode(body: bytes) -> tuple[Any, bool]:
    """The body's JSON value, and whether it came by contract.decode_plain (the fast path)."""
    plain = decode_plain(body)
    if plain is not None:
        return plain.value, True
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float), False
    except UnicodeDecodeError as exc:
        raise Refused(400, "invalid_json", f"The body is not UTF-8: {exc.reason} at byte {exc.start}.") from None
    except json.JSONDecodeError as exc:
        raise Refused(400, "invalid_json", f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    except ValueError as exc:
        raise Refused(400, "invalid_json", f"The body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise Refused(400, "too_deeply_nested", "The JSON is nested too deeply.") from None


def _guard(handler):
    @csrf_exempt
    def view(request: HttpRequest) -> JsonResponse:
        if request.method != "POST":
            response = _error(405, "method_not_allowed", "Use POST.")
            response["Allow"] = "POST"
            return response
        try:
            return handler(request)
        except Refused as r:
            return _error(r.status, r.error, r.detail, **r.extra)

    view.__name__ = handler.__name__
    return view


def _parse_one(request: HttpRequest) -> EventInfo:
    obj, plain = _decode(_read_body(request, settings.LINEAGE_MAX_EVENT_BYTES))
    if isinstance(obj, list):
        raise Refused(400, "invalid_event", "This endpoint takes one event; send arrays to /api/v1/lineage/batch.")
    try:
        return parse_event(obj, max_depth=settings.LINEAGE_MAX_JSON_DEPTH, plain=plain)
    except ContractError as exc:
        raise Refused(400, "invalid_event", str(exc), errors=exc.errors) from None


@_guard
def lineage(request: HttpRequest) -> JsonResponse:
    # A key this process knows skips the lookup: accept_one checks in its INSERT that the key is
    # still active and its org still has the beta. Any other outcome, and any refusal of the body,
    # first authenticates precisely, so a revoked key or a switched-off beta is answered as such
    # (and before the body's own problems, as the order of checks says).
    facts = _known_key(request)
    key = None if facts is not None else _authenticate(request)
    try:
        info = _parse_one(request)
    except Refused:
        if key is None:
            _authenticate(request)
        raise
    if key is None:
        outcome = accept_one(key=facts, info=info)
        if outcome is not None:
            return JsonResponse({"status": outcome.status, "id": outcome.raw_id}, status=201)
        key = _authenticate(request)
    outcome = accept_events(key=key, infos=[(0, info)])[0]
    if outcome.status == "refused":
        raise Refused(403, "wrong_tenant", f"Refused: {outcome.reason}. Nothing was stored.")
    if outcome.status == "dropped":
        return JsonResponse({"status": "dropped", "detail": outcome.reason}, status=200)
    return JsonResponse({"status": outcome.status, "id": outcome.raw_id},
                        status=201 if outcome.status == "accepted" else 200)


def _check_batch(body: bytes, *, one_at_a_time: bool = True) -> tuple[int, list[tuple[int, EventInfo]], list[dict[str, Any]]]:
    """Decode a batch and check each event: (events received, valid ones, failures by index).
    Events are decoded one at a time where contract.split_plain_array can (most batches);
    otherwise, or if an event then needs the standard path, the whole body is decoded at once."""
    texts = split_plain_array(body) if one_at_a_time else None
    if texts is None:
        events, plain = _decode(body)
        if not isinstance(events, list):
            raise Refused(400, "invalid_batch", "A batch must be a JSON array of events; send single events to /api/v1/lineage.")
    else:
        events, plain = texts, True
    if len(events) > settings.LINEAGE_MAX_BATCH_EVENTS:
        raise Refused(413, "batch_too_large", f"A batch holds at most {settings.LINEAGE_MAX_BATCH_EVENTS} events "
                      f"(got {len(events)}); split it.", limit_events=settings.LINEAGE_MAX_BATCH_EVENTS)
    max_depth = settings.LINEAGE_MAX_JSON_DEPTH
    failed: list[dict[str, Any]] = []
    valid: list[tuple[int, EventInfo]] = []
    for index, obj in enumerate(events):
        if texts is not None:
            decoded = decode_plain_element(obj)
            if decoded is None:  # orjson refuses what msgspec read: the standard path reads the whole body
                return _check_batch(body, one_at_a_time=False)
            obj = decoded.value
        try:
            valid.append((index, parse_event(obj, max_depth=max_depth, plain=plain)))
        except ContractError as exc:
            failed.append({"index": index, "reason": str(exc), "retriable": False, "errors": exc.errors})
    return len(events), valid, failed


@_guard
def lineage_batch(request: HttpRequest) -> JsonResponse:
    key = _authenticate(request)
    body = _read_body(request, settings.LINEAGE_MAX_BATCH_BYTES)
    # The decoded events are born and freed (by reference counting) within the pause, so the
    # collection that follows it has nothing of them left to scan.
    with cyclic_gc_paused():
        received, valid, failed = _check_batch(body)
    outcomes = accept_events(key=key, infos=valid) if valid else []
    dropped = []
    for outcome in outcomes:
        if outcome.status == "refused":
            failed.append({"index": outcome.index, "reason": f"Refused: {outcome.reason}", "retriable": False})
        elif outcome.status == "dropped":
            dropped.append({"index": outcome.index, "reason": outcome.reason})
    failed.sort(key=lambda f: f["index"])
    successful = received - len(failed)
    body = {
        "status": "success" if not failed else "partial_success",
        "summary": {
            "received": received,
            "successful": successful,
            "failed": len(failed),
            "retriable": 0,
            "non_retriable": len(failed),
            # Extensions: successful events the capture rule dropped, and duplicates of stored ones.
            "dropped": len(dropped),
            "duplicates": sum(1 for o in outcomes if o.status == "duplicate"),
        },
        "failed_events": failed,
        "dropped_events": dropped,
    }
    if failed and not successful:
        body["status"] = "failure"
        return JsonResponse(body, status=400)
    return JsonResponse(body, status=200)


@require_GET
def facet_schema(request: HttpRequest, version: str, name: str) -> FileResponse:
    """Our custom facets' JSON Schemas, referenced by the facets' `_schemaURL`."""
    path = SPEC_DIR / name
    if version != "1-0-0" or path.parent != SPEC_DIR or not path.is_file():
        raise Http404("No such facet schema")
    return FileResponse(path.open("rb"), content_type="application/schema+json")
