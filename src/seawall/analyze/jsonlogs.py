"""JSON-lines access logs: nginx (`log_format ... escape=json`), Caddy v2, and seawall's own.

polars decodes many lines in one call, in parallel. One bad line makes that call fail for
all of them; then the lines that are not {...} are set aside (msgspec checks those one by
one), and what polars still refuses among the rest is found by halving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

import msgspec
import polars as pl

from seawall.analyze.formats import (
    Batch,
    build_batch,
    epoch_any,
    register,
    share_parsed,
)
from seawall.analyze.read import is_blank

SUB_CHUNK = 32768  # lines per decode call: larger joins cost page faults, smaller ones overhead
Schema = Mapping[str, pl.DataType]


class _Object(msgspec.Struct):
    """Any JSON object (its fields are skipped); anything else fails to decode."""


_object = msgspec.json.Decoder(_Object)


def _is_object(text: str) -> bool:
    try:
        _object.decode(text)
    except msgspec.DecodeError:
        return False
    return True


def _decode(texts: list[str], schema: Schema) -> pl.DataFrame | None:
    if not texts:
        return None
    try:
        frame = pl.read_ndjson("\n".join(texts).encode(), schema=schema, ignore_errors=True)
    except pl.exceptions.PolarsError:
        return None
    # one row per line, or the lines did not split the way we split them (a bare \r, say)
    return frame if frame.height == len(texts) else None


def _halve(
    texts: list[str], at: list[int], schema: Schema, out: list[tuple[list[int], pl.DataFrame]]
) -> None:
    frame = _decode([texts[i] for i in at], schema)
    if frame is not None:
        out.append((at, frame))
    elif len(at) > 1:
        mid = len(at) // 2
        _halve(texts, at[:mid], schema, out)
        _halve(texts, at[mid:], schema, out)


def _careful(texts: list[str], schema: Schema) -> pl.DataFrame:
    """A row per line, null where a line is blank or not a JSON object polars reads."""
    pieces: list[tuple[list[int], pl.DataFrame]] = []
    # most bad lines are cut short or not JSON at all: the braces tell, and only lines
    # without them are looked at one by one
    braced = [x[:1] == "{" and x[-1:] == "}" for x in texts]
    objects = [i for i, x in enumerate(texts) if braced[i] or (not is_blank(x) and _is_object(x))]
    _halve(texts, objects, schema, pieces)
    where = pl.Series("at", [i for idx, _ in pieces for i in idx], dtype=pl.UInt32)
    decoded = pl.concat([pl.DataFrame(schema=schema), *(f for _, f in pieces)])
    found = pl.concat([where.to_frame(), decoded], how="horizontal")
    every = pl.DataFrame({"at": pl.int_range(len(texts), dtype=pl.UInt32, eager=True)})
    return every.join(found, on="at", how="left", maintain_order="left").drop("at")


def read_json(texts: list[str], schema: Schema) -> pl.DataFrame:
    """A row per line, with the schema's columns: null where a line is not a JSON object."""
    parts = []
    careful = False  # once a part had a bad line, the chunk's others are looked at first
    for lo in range(0, len(texts), SUB_CHUNK):
        part = texts[lo : lo + SUB_CHUNK]
        # the whole part in one call; line by line only when that fails
        frame = None if careful else _decode(part, schema)
        careful = frame is None
        parts.append(frame if frame is not None else _careful(part, schema))
    if len(parts) == 1:
        return parts[0]
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def text(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String).fill_null("")


def finish(rows: pl.DataFrame, texts: list[str], first_line: int, extra: Sequence[str]) -> Batch:
    """rows (one per line of texts) with a finite time and a status are good; of the rest,
    the lines that are not blank are malformed."""
    valid = pl.col("time").is_finite() & pl.col("status").is_not_null()
    ok = rows.select(valid.fill_null(False)).to_series()
    if ok.all():
        return build_batch(rows, _NO_LINES, extra)
    bad = [i for i in ok.not_().arg_true().to_list() if not is_blank(texts[i])]
    lines = pl.DataFrame(
        {"line": [first_line + i for i in bad], "text": [texts[i] for i in bad]},
        schema=_NO_LINES.schema,
    )
    return build_batch(rows.filter(ok), lines, extra)


_NO_LINES = pl.DataFrame(schema={"line": pl.Int64(), "text": pl.String()})


def columns(first_line: int, **exprs: pl.Expr) -> list[pl.Expr]:
    """The Batch columns, in order, from expressions named by column; line numbers."""
    defaults: dict[str, pl.Expr] = {
        "client": pl.lit(""),
        "method": pl.lit(""),
        "host": pl.lit(""),
        "uri": pl.lit(""),
        "bytes_out": pl.lit(0, pl.Int64),
        "user_agent": pl.lit(""),
        "latency": pl.lit(0.0),
    }
    order = ("time", "client", "method", "host", "uri", "status", "bytes_out")
    out = [(pl.int_range(pl.len(), dtype=pl.Int64) + first_line).alias("line")]
    for name in (*order, "user_agent", "latency"):
        expr = exprs.pop(name, None)
        out.append((defaults[name] if expr is None else expr).alias(name))
    out += [e.alias(n) for n, e in exprs.items()]
    return out


# ---- seawall ------------------------------------------------------------------------------

SEAWALL_EXTRA = (
    "verdict",
    "reason",
    "rule",
    "class",
    "cache",
    "request_id",
    "peer",
    "error",
    "fp",
    "route",
    "target",
)
_S = pl.String()
SEAWALL_SCHEMA: dict[str, pl.DataType] = {
    "time": pl.Float64(),
    "client": _S,
    "method": _S,
    "host": _S,
    "path": _S,
    "query": _S,
    "uri": _S,
    "status": pl.Int64(),
    "bytes_out": pl.Int64(),
    "latency_ms": pl.Float64(),
    "ua": _S,
    **dict.fromkeys(SEAWALL_EXTRA, _S),
}


# seawall's combined log re-encodes a decoded target with these left alone (edge.accesslog)
_URI_SAFE = "/?&=:@!$'()*+,;-._~%"
_URI_UNSAFE = r"[^A-Za-z0-9/?&=:@!$'()*+,;._~%-]"


def _quote_targets(rows: pl.DataFrame) -> pl.DataFrame:
    """uri for lines without the raw target: path?query encoded as the combined log has it
    (each distinct one once: a flood repeats its own)."""
    where = rows["_quote"].arg_true()
    rows = rows.drop("_quote")
    if where.len():
        todo = rows["uri"].gather(where)
        plain = todo.unique().to_list()
        done = todo.replace(plain, [quote(u, safe=_URI_SAFE) for u in plain])
        rows = rows.with_columns(rows["uri"].scatter(where, done))
    return rows


class SeawallFormat:
    """seawall's own access log (edge.accesslog.json_line)."""

    name = "seawall"

    def sniff(self, lines: Sequence[str]) -> float:
        return share_parsed(self, lines)

    def parse(self, lines: Sequence[str], first_line: int) -> Batch:
        texts = list(lines)
        frame = read_json(texts, SEAWALL_SCHEMA)
        query, raw = text("query"), text("uri")
        # uri is the raw target when the edge kept it; else the decoded path and query
        frame = frame.with_columns(
            _target=pl.when(query == "").then(text("path")).otherwise(text("path") + "?" + query),
            # only seawall's lines: a verdict is what no other format writes
            status=pl.when(pl.col("verdict").is_not_null()).then(pl.col("status")),
        )
        target = pl.col("_target")
        exprs = columns(
            first_line,
            time=pl.col("time"),
            client=text("client"),
            method=text("method"),
            host=text("host"),
            uri=pl.when(raw == "").then(target).otherwise(raw),
            status=pl.col("status"),
            bytes_out=pl.col("bytes_out").fill_null(0),
            user_agent=text("ua"),
            latency=pl.col("latency_ms").fill_null(0.0) / 1000,
            **{name: text(name) for name in SEAWALL_EXTRA},
        )
        unsafe = (raw == "") & target.str.contains(_URI_UNSAFE)
        rows = frame.select([*exprs, unsafe.alias("_quote")])
        return finish(_quote_targets(rows), texts, first_line, SEAWALL_EXTRA)


# ---- caddy --------------------------------------------------------------------------------

CADDY_SCHEMA: dict[str, pl.DataType] = {
    "ts": _S,
    "request": pl.Struct(
        {
            "client_ip": _S,
            "remote_ip": _S,
            "method": _S,
            "host": _S,
            "uri": _S,
            "headers": pl.Struct({"User-Agent": pl.List(_S)}),
        }
    ),
    "duration": _S,
    "size": _S,
    "status": _S,
}


class CaddyFormat:
    """Caddy v2's JSON access log (logger http.log.access)."""

    name = "caddy"

    def sniff(self, lines: Sequence[str]) -> float:
        return share_parsed(self, lines)

    def parse(self, lines: Sequence[str], first_line: int) -> Batch:
        texts = list(lines)
        frame = read_json(texts, CADDY_SCHEMA)
        request = pl.col("request").struct
        remote = request.field("remote_ip")
        exprs = columns(
            first_line,
            time=epoch_any(pl.col("ts")),
            client=pl.coalesce(request.field("client_ip"), remote).fill_null(""),
            method=request.field("method").fill_null(""),
            host=request.field("host").fill_null(""),
            uri=request.field("uri").fill_null(""),
            # a request without a method is some other logger's line
            status=pl.when(request.field("method").is_not_null()).then(
                pl.col("status").cast(pl.Int64, strict=False)
            ),
            bytes_out=pl.col("size").cast(pl.Int64, strict=False).fill_null(0),
            user_agent=request.field("headers")
            .struct.field("User-Agent")
            .list.first()
            .fill_null(""),
            latency=pl.col("duration").cast(pl.Float64, strict=False).fill_null(0.0),
            peer=remote.fill_null(""),
        )
        return finish(frame.select(exprs), texts, first_line, ("peer",))


# ---- nginx JSON -------------------------------------------------------------------------

# target -> the field names nginx configurations use for it, preferred first
NGINX_FIELDS: dict[str, tuple[str, ...]] = {
    "time": ("msec", "time_iso8601", "@timestamp", "timestamp", "time", "time_local"),
    "client": ("client_ip", "remote_addr", "client", "ip"),
    "request": ("request",),
    "method": ("request_method", "method"),
    "uri": ("request_uri", "uri", "path"),
    "args": ("args", "query_string"),
    "status": ("status",),
    "bytes_out": ("body_bytes_sent", "bytes_sent"),
    "user_agent": ("http_user_agent", "user_agent"),
    "latency": ("request_time",),
    "host": ("host", "http_host", "server_name"),
    "request_id": ("request_id",),
    "forwarded_for": ("http_x_forwarded_for",),
}
NGINX_EXTRA = ("request_id", "forwarded_for")
# a one-pass regex for the usual request line (a quarter of the cost), the other for the rest
REQUEST_LINE = r"^(?P<method>[A-Z][A-Z0-9_-]{0,31}) (?P<target>[^ ]+)(?: HTTP/[0-9.]+)?$"
ODD_REQUEST_LINE = r"^(?P<method>[A-Z][A-Z0-9_-]{0,31}) (?P<target>.+?)(?: HTTP/[0-9.]+)?$"
_MAPPING_LINES = 50


def nginx_mapping(lines: Sequence[str]) -> dict[str, str]:
    """target -> field, from the fields these lines carry most often."""
    counts: dict[str, int] = {}
    for line in [x for x in lines if not is_blank(x)][:_MAPPING_LINES]:
        try:
            obj = msgspec.json.decode(line)
        except msgspec.DecodeError:
            continue
        if isinstance(obj, dict):
            for key in obj:
                counts[key] = counts.get(key, 0) + 1
    mapping = {}
    for target, names in NGINX_FIELDS.items():
        present = [n for n in names if counts.get(n)]
        if present:
            mapping[target] = max(present, key=lambda n: counts[n])  # ties: the first
    return mapping


class NginxJsonFormat:
    """nginx JSON lines; the field names are picked from the lines (see NGINX_FIELDS)."""

    name = "nginx-json"

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self.mapping = dict(mapping) if mapping is not None else None

    def bind(self, lines: Sequence[str]) -> NginxJsonFormat:
        return NginxJsonFormat(nginx_mapping(lines))

    def sniff(self, lines: Sequence[str]) -> float:
        return share_parsed(self.bind(lines) if self.mapping is None else self, lines)

    def parse(self, lines: Sequence[str], first_line: int) -> Batch:
        if self.mapping is None:  # named by the operator: pick the fields from this chunk
            return self.bind(lines).parse(lines, first_line)
        fields = self.mapping
        texts = list(lines)
        frame = read_json(texts, dict.fromkeys(sorted(set(fields.values())), _S))
        exprs = columns(first_line, **self._exprs(fields))
        extra = tuple(n for n in NGINX_EXTRA if n in fields)
        return finish(frame.select(exprs), texts, first_line, extra)

    @staticmethod
    def _exprs(fields: Mapping[str, str]) -> dict[str, pl.Expr]:
        def field(target: str) -> pl.Expr:
            return pl.col(fields[target]) if target in fields else pl.lit(None, pl.String)

        line = field("request").str.extract_groups(REQUEST_LINE).struct
        # null where the usual form matched, so the slower regex sees only the others
        odd = pl.when(line.field("method").is_null()).then(field("request"))
        other = odd.str.extract_groups(ODD_REQUEST_LINE).struct
        method = pl.coalesce(field("method"), line.field("method"), other.field("method"))
        uri = pl.coalesce(field("uri"), line.field("target"), other.field("target"))
        if "args" in fields and fields.get("uri") in ("uri", "path"):  # $uri has no query
            args = field("args").fill_null("")
            uri = pl.when(args.is_in(["", "-"])).then(uri).otherwise(uri + "?" + args)
        bytes_out = field("bytes_out")
        user_agent = field("user_agent").fill_null("")
        return {
            "time": epoch_any(field("time")),
            "client": field("client").fill_null(""),
            "method": method.fill_null(""),
            "host": field("host").fill_null(""),
            "uri": uri.fill_null(""),
            "status": field("status").cast(pl.Int64, strict=False),
            "bytes_out": pl.when(bytes_out == "-")
            .then(0)
            .otherwise(bytes_out.cast(pl.Int64, strict=False))
            .fill_null(0),
            "user_agent": pl.when(user_agent == "-").then(pl.lit("")).otherwise(user_agent),
            "latency": field("latency").cast(pl.Float64, strict=False).fill_null(0.0),
            **{n: field(n).fill_null("") for n in NGINX_EXTRA if n in fields},
        }


SEAWALL = SeawallFormat()
CADDY = CaddyFormat()
NGINX_JSON = NginxJsonFormat()
register(SEAWALL, "seawall's own JSON access log (seawall edge --access-log-format json)")
register(CADDY, "Caddy v2 JSON access log (logger http.log.access)")
register(NGINX_JSON, "nginx JSON lines (log_format ... escape=json); field names picked per file")
