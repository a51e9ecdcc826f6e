"""STIX 2.1: an incident's indicators out as a validated bundle, a peer's bundle in.

Export builds the bundle with the `stix2` library and checks it with `stix2validator`
before anyone sees it. Ids are derived from content (a hash shaped as a version 4 UUID),
so exporting the same incident again yields new versions of the same objects.

Import reads a bundle as plain JSON, bounded in size and nesting, and takes only
indicators whose pattern is the simple kind a block list can hold: equality with (or
ISSUBSET of) an `ipv4-addr:value` / `ipv6-addr:value` literal, alternatives joined by
OR. Everything else is skipped and counted by reason, never guessed at.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from seawall.core.errors import SeawallError
from seawall.intel.indicators import (
    DEFAULT_READING,
    Collector,
    Indicator,
    IntelError,
    Parsed,
    Reading,
    clean_text,
)

LABELS = ["malicious-activity"]
IDENTITY_CREATED = 1577836800.0  # the platform identity's one version: 2020-01-01
MAX_PATTERN = 64 * 1024
MAX_REPORT_ITEMS = 20
_CMP = r"(ipv4-addr|ipv6-addr):value\s*(?:=|ISSUBSET)\s*'([0-9A-Fa-f:./]{1,64})'"
_CMP_ONLY = r"(?:ipv4-addr|ipv6-addr):value\s*(?:=|ISSUBSET)\s*'[0-9A-Fa-f:./]{1,64}'"
_OBS = rf"\[\s*{_CMP_ONLY}(?:\s*OR\s*{_CMP_ONLY})*\s*\]"
_PATTERN = re.compile(rf"\s*{_OBS}(?:\s*OR\s*{_OBS})*\s*")
_COMPARISON = re.compile(_CMP)
_UNSUPPORTED = "only ipv4-addr:value / ipv6-addr:value equality or ISSUBSET, joined by OR"


class StixExportError(SeawallError):
    """Our export failed the STIX validator: a seawall bug, never the user's input."""


def _stix_id(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join((kind, *parts)).encode()).digest()
    return f"{kind}--{uuid.UUID(bytes=digest[:16], version=4)}"


def _ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def pattern_of(ind: Indicator) -> str:
    return f"[{'ipv6-addr' if ind.v6 else 'ipv4-addr'}:value = '{ind.value}']"


def _report(
    incident: Mapping[str, Any], refs: list[str], identity: str, platform: str, now: float
) -> Any:
    inc_id = clean_text(incident.get("id", ""), 100)
    start = incident.get("start")
    created = min(float(start), now) if isinstance(start, int | float) else now

    def listed(key: str) -> str:
        items = incident.get(key)
        items = items if isinstance(items, list) else []
        shown = [clean_text(x, 100) for x in items[:MAX_REPORT_ITEMS]]
        return ", ".join(shown) + (", ..." if len(items) > MAX_REPORT_ITEMS else "") or "none"

    peak = incident.get("peak_rps")
    description = (
        f"Attack on {listed('targets')}; vectors: {listed('vectors')}; "
        f"peak {float(peak) if isinstance(peak, int | float) else 0.0:.0f} attack requests/s."
    )
    import stix2  # noqa: PLC0415  (a tenth of a second; only exports need it)

    return stix2.v21.Report(
        id=_stix_id("report", platform, inc_id),
        created_by_ref=identity,
        created=_ts(created),
        modified=_ts(now),
        name=f"{platform} incident {inc_id}",
        description=description,
        published=_ts(now),
        report_types=["threat-report"],
        object_refs=refs or [identity],
        external_references=[{"source_name": platform, "external_id": inc_id}],
    )


def _indicator(ind: Indicator, identity: str, platform: str, now: float) -> Any:
    import stix2  # noqa: PLC0415

    return stix2.v21.Indicator(
        id=_stix_id("indicator", platform, ind.incident, ind.value),
        created_by_ref=identity,
        created=_ts(min(ind.valid_from, now)),
        modified=_ts(now),
        name=ind.value,
        description=ind.description or f"attacking {ind.kind} {ind.value}",
        pattern=pattern_of(ind),
        pattern_type="stix",
        valid_from=_ts(ind.valid_from),
        valid_until=_ts(ind.valid_until),
        confidence=ind.confidence,
        labels=LABELS,
        indicator_types=LABELS,
    )


def export_stix(
    indicators: Sequence[Indicator],
    now: float,
    incident: Mapping[str, Any] | None = None,
    platform: str = "seawall",
) -> str:
    """A STIX 2.1 bundle (JSON text): the platform's identity, the live indicators, and a
    report of the incident referring to them. Raises StixExportError if it is invalid."""
    import stix2  # noqa: PLC0415

    platform = clean_text(platform, 100) or "seawall"
    ident = stix2.v21.Identity(
        id=_stix_id("identity", platform),
        name=platform,
        identity_class="system",
        created=_ts(IDENTITY_CREATED),
        modified=_ts(IDENTITY_CREATED),
    )
    live = [i for i in indicators if i.valid_until > max(now, i.valid_from)]
    objects: list[Any] = [ident]
    objects += [_indicator(i, ident.id, platform, now) for i in live]
    if incident is not None:
        refs = [o.id for o in objects[1:]]
        objects.append(_report(incident, refs, ident.id, platform, now))
    inc_id = str(incident.get("id", "")) if incident is not None else ""
    bundle = stix2.v21.Bundle(objects=objects, id=_stix_id("bundle", platform, inc_id, repr(now)))
    # stix2's own pretty printer is quadratic in the number of objects; json's is not
    text = json.dumps(json.loads(bundle.serialize()), indent=2, ensure_ascii=False) + "\n"
    problems = validation_errors(text)
    if problems:
        raise StixExportError("the exported bundle is not valid STIX 2.1: " + "; ".join(problems))
    return text


def validation_errors(text: str) -> list[str]:
    """What stix2validator finds wrong with a bundle (warnings are not errors)."""
    import stix2validator  # noqa: PLC0415  (near a second to import; only exports need it)

    options = stix2validator.ValidationOptions(version="2.1", silent=True)
    result = stix2validator.validate_string(text, options)
    if result.is_valid:
        return []
    # one result per object in a file, or one for the whole bundle given as a string
    results = getattr(result, "object_results", None) or [result]
    out = [f"{r.object_id}: {e.message}" for r in results for e in r.errors]
    return out or ["the validator refused it"]


# ---- import ---------------------------------------------------------------------------------


def load_json(data: bytes | str, where: str, max_bytes: int, max_depth: int) -> Any:
    """JSON from an untrusted file: bounded in size and nesting; IntelError names it."""
    if len(data) > max_bytes:
        raise IntelError(where, f"is {len(data)} bytes; at most {max_bytes} are read")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        doc = json.loads(text)
    except UnicodeDecodeError as exc:
        raise IntelError(where, f"is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise IntelError(where, f"is not JSON: {exc.msg} (line {exc.lineno})") from None
    except RecursionError:
        raise IntelError(where, f"nests JSON deeper than {max_depth} levels") from None
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            raise IntelError(where, f"nests JSON deeper than {max_depth} levels")
        stack.extend((c, depth + 1) for c in children)
    return doc


def parse_time(value: object) -> float | None:
    """Epoch seconds of a STIX timestamp, or None when it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def parse_pattern(pattern: str) -> list[tuple[str, str]] | None:
    """[(ipv4-addr | ipv6-addr, literal)] of a simple pattern; None for any other pattern."""
    if len(pattern) > MAX_PATTERN or _PATTERN.fullmatch(pattern) is None:
        return None
    return [(m.group(1), m.group(2)) for m in _COMPARISON.finditer(pattern)]


def _objects(doc: Any, where: str) -> list[Any]:
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise IntelError(where, 'is not a STIX bundle (no top-level "type": "bundle")')
    objects = doc.get("objects", [])
    if not isinstance(objects, list):
        raise IntelError(where, 'is not a STIX bundle ("objects" is not a list)')
    return objects


class _Bundle:
    """A bundle's identities, report references and latest indicator versions."""

    def __init__(self, objects: list[Any], where: str, out: Collector) -> None:
        self.names: dict[str, str] = {}
        self.incidents: dict[str, str] = {}
        self.indicators: dict[str, dict[str, Any]] = {}
        for i, obj in enumerate(objects):
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                out.skip("bad_object", f"{where}: objects[{i}] is not a STIX object with an id")
                continue
            kind = obj.get("type")
            if kind == "identity":
                if isinstance(obj.get("name"), str):
                    self.names[obj["id"]] = obj["name"]
            elif kind == "report":
                self._report(obj)
            elif kind == "indicator":
                self._indicator(obj, out)
            else:
                out.skip("not_an_indicator")

    def _report(self, obj: dict[str, Any]) -> None:
        refs = obj.get("external_references")
        ext = (
            [r.get("external_id") for r in refs if isinstance(r, dict)]
            if isinstance(refs, list)
            else []
        )
        label = next((e for e in ext if isinstance(e, str)), obj.get("name"))
        refs = obj.get("object_refs")
        if isinstance(label, str) and isinstance(refs, list):
            for ref in refs:
                if isinstance(ref, str):
                    self.incidents.setdefault(ref, clean_text(label, 100))

    def _indicator(self, obj: dict[str, Any], out: Collector) -> None:
        old = self.indicators.get(obj["id"])
        if old is not None:
            out.skip("older_version")
            if (parse_time(obj.get("modified")) or 0.0) < (parse_time(old.get("modified")) or 0.0):
                return
        self.indicators[obj["id"]] = obj


def parse_stix(
    data: bytes | str, where: str, now: float, reading: Reading = DEFAULT_READING
) -> Parsed:
    """The indicators of a peer's STIX 2.1 bundle; IntelError if it is no bundle at all."""
    doc = load_json(data, where, reading.max_bytes, reading.max_depth)
    out = Collector(reading.bounds)
    bundle = _Bundle(_objects(doc, where), where, out)
    for obj in bundle.indicators.values():
        _read_indicator(obj, bundle, where, now, reading, out)
    return out.result()


def _window(obj: dict[str, Any], now: float, reading: Reading) -> tuple[float, float] | str:
    """(valid_from, valid_until) of an indicator, or why it is skipped."""
    if obj.get("revoked") is True:
        return "revoked"
    start = parse_time(obj["valid_from"]) if "valid_from" in obj else now
    end = parse_time(obj["valid_until"]) if "valid_until" in obj else now + reading.ttl
    if start is None or end is None:
        return "bad_object"
    if end <= now:
        return "expired"
    if start > now:
        return "not_yet_valid"
    return start, end


def _read_indicator(
    obj: dict[str, Any], bundle: _Bundle, where: str, now: float, reading: Reading, out: Collector
) -> None:
    here = f"{where}: {clean_text(obj['id'], 80)}"
    window = _window(obj, now, reading)
    if isinstance(window, str):
        bad = window == "bad_object"
        out.skip(window, f"{here}: valid_from or valid_until is not a timestamp" if bad else "")
        return
    confidence = obj.get("confidence", reading.confidence)
    pattern = obj.get("pattern")
    if type(confidence) is not int or not 0 <= confidence <= 100:
        out.skip("bad_object", f"{here}: confidence is not an integer 0-100")
        return
    if obj.get("pattern_type", "stix") != "stix":
        out.skip("unsupported_pattern", f"{here}: pattern_type is not stix")
        return
    if not isinstance(pattern, str):
        out.skip("bad_object", f"{here}: pattern is not text")
        return
    found = parse_pattern(pattern)
    if found is None:
        out.skip("unsupported_pattern", f"{here}: {clean_text(pattern, 80)!r}: {_UNSUPPORTED}")
        return
    creator = obj.get("created_by_ref")
    source = reading.source or bundle.names.get(str(creator), "") or str(creator or where)
    text = obj.get("description") or obj.get("name") or ""
    fields = {
        "valid_from": window[0],
        "valid_until": window[1],
        "confidence": confidence,
        "source": clean_text(source, 100),
        "description": clean_text(text, 200),
        "incident": bundle.incidents.get(obj["id"], ""),
    }
    for family, literal in found:
        if (family == "ipv6-addr") != (":" in literal):
            out.skip("not_an_address", f"{here}: {literal!r} is not an {family}")
            continue
        out.add(literal, here, **fields)
