"""The fast path (orjson) reads and stores exactly what the standard library path does.

Content hashes and the tamper-evident chain cover the canonical text, so the two writers must agree
byte for byte, and decode_plain must give the very value json.loads gives, or step aside.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.contract import (
    _RFC3339,
    ContractError,
    _canonical_plain,
    _time_by_the_rules,
    canonical_json,
    decode_plain,
    decode_plain_element,
    parse_event,
    parse_time,
    split_plain_array,
)
from tests.events import dataset, run_event, workload

# JSON values with the awkward parts: astral and control characters, keys that sort differently
# in UTF-16, integers beyond 64 bits, floats of every magnitude.
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


def json_values(scalars):
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=25,
    )


any_values = json_values(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | text
)
# What decode_plain hands to the orjson writer: no floats, integers within 64 bits.
plain_values = json_values(st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | text)


@settings(max_examples=500, deadline=None)
@given(any_values, st.booleans())
def test_decode_plain_reads_what_json_loads_reads_or_steps_aside(value, ascii_only):
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    plain = decode_plain(body)
    if plain is not None:
        assert canonical_json(plain.value) == canonical_json(json.loads(body))


@settings(max_examples=500, deadline=None)
@given(plain_values)
def test_canonical_writers_agree_without_floats(value):
    assert _canonical_plain(value) == canonical_json(value).encode()


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 18446744073709551616}',  # beyond 64 bits: orjson would read a float
        b'{"a": "x\\u0000y"}',  # NUL: check_structure names it
        b'{"a": "\\ud800"}',  # lone surrogate
        b"\xef\xbb\xbf{}",  # UTF-8 BOM, which json.loads accepts
        b'{"a": 1e400}',
        b"{not json",
    ],
)
def test_awkward_bodies_take_the_standard_path(body):
    assert decode_plain(body) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(any_values, max_size=6), st.booleans(), st.sampled_from(["", " ", "\n\t "]))
def test_a_batch_read_one_element_at_a_time_reads_what_json_loads_reads_or_steps_aside(values, ascii_only, space):
    body = (space + "[" + space + ("," + space).join(json.dumps(v, ensure_ascii=ascii_only) for v in values)
            + space + "]" + space).encode()
    texts = split_plain_array(body)
    if texts is None:
        return
    elements = [decode_plain_element(text) for text in texts]
    if any(e is None for e in elements):
        return
    assert [canonical_json(e.value) for e in elements] == [canonical_json(v) for v in json.loads(body)]


def test_plain_batches_are_read_one_element_at_a_time():
    events = [_event(), run_event("START", "r2", outputs=[dataset("s3://b", "plain")])]
    texts = split_plain_array(json.dumps(events).encode())
    assert texts is not None and len(texts) == 2
    for text, event in zip(texts, events, strict=True):
        assert parse_event(decode_plain_element(text).value, plain=True) == parse_event(event)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1}',  # not an array
        b"[{}] x",  # trailing characters
        b"\xef\xbb\xbf[{}]",  # UTF-8 BOM
        b"[1,]",
        b'[{"a": 18446744073709551616}]',  # beyond 64 bits
        b'[{"a": "x\\u0000y"}]',  # NUL
        b'[{"a": "\\ud800"}]',  # lone surrogate
        b"[" * 5000 + b"]" * 5000,  # deeper than msgspec's recursion limit
    ],
)
def test_awkward_batches_are_not_split(body):
    assert split_plain_array(body) is None


@pytest.mark.parametrize("element", [b'{"a": 1e400}', b'{"a": "\xff"}'])
def test_elements_orjson_refuses_send_the_batch_to_the_standard_path(element):
    texts = split_plain_array(b"[{}, " + element + b"]")
    assert texts is not None  # msgspec reads them as JSON
    assert decode_plain_element(texts[0]) is not None
    assert decode_plain_element(texts[1]) is None


def _event():
    return run_event(
        "COMPLETE", "r1", workload_facet=workload("wl-1", cluster="c1"),
        outputs=[dataset("s3://bucket", "out/ünïcödé 😀"), dataset("s3://bucket", "x", extra={"n": 1.5e-7})],
    )


def test_parse_event_gives_the_same_info_either_way():
    for event in (_event(), run_event("START", "r2", outputs=[dataset("s3://b", "plain")])):
        body = json.dumps(event).encode()
        plain = decode_plain(body)
        assert plain is not None
        assert parse_event(plain.value, plain=True) == parse_event(json.loads(body))


def test_too_deep_events_are_refused_alike_either_way():
    event = run_event("START", "r1")
    nested: dict = {}
    cursor = nested
    for _ in range(70):
        cursor["x"] = {}
        cursor = cursor["x"]
    event["run"]["facets"]["deep"] = nested
    body = json.dumps(event).encode()
    errors = []
    for value, plain in ((decode_plain(body).value, True), (json.loads(body), False)):
        with pytest.raises(ContractError) as exc:
            parse_event(value, max_depth=64, plain=plain)
        errors.append(exc.value.errors)
    assert errors[0] == errors[1]


def _outcome(read, value):
    try:
        when = read(value)
    except ValueError as exc:
        return "error", str(exc)
    return when.isoformat(), when.utcoffset()


@settings(max_examples=1500, deadline=None)
@given(
    st.sampled_from(["2024", "0001", "9999", "0000"]), st.sampled_from(["01", "02", "12", "13", "00"]),
    st.sampled_from(["01", "29", "30", "31", "32", "00"]), st.sampled_from(["T", "t", " "]),
    st.sampled_from(["00", "23", "24"]), st.sampled_from(["00", "59", "60"]), st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["", ".1", ".123", ".123456", ".1234567", ".123456789"]),
    st.sampled_from(["", "Z", "z", "+00:00", "-00:00", "+05:30", "-08:00", "+0530", "+24:00", "-12:60"]),
)
def test_parse_time_reads_like_its_rules(year, month, day, sep, hour, minute, second, frac, offset):
    value = f"{year}-{month}-{day}{sep}{hour}:{minute}:{second}{frac}{offset}"
    assert _outcome(parse_time, value) == _outcome(lambda v: _time_by_the_rules(_RFC3339.match(v)), value)
