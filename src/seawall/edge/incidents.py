"""One incident for the host, from the shares its workers saw.

Each worker detects on its own share of the traffic, as dosd does on each server, so one
attack is one incident per worker. The supervisor folds them into one. A worker's
report joins the host incident it already belongs to. Otherwise it joins the open one
it overlaps (it started within `quiet` of that one's span, as far as its members have
reported it), or it starts a new one. A member that stopped reporting (a worker that
died) therefore holds nothing open for later attacks.

The merged report is rebuilt from the latest report of every member:

- times are the earliest; the end is the latest, once every member has ended;
- rates and counts are sums, and a peak is the sum of the workers' peaks (their traffic
  is spread over them);
- signatures and actions are the union;
- distinct sources come from the members' HyperLogLog registers merged, so they count
  addresses seen by several workers once; the uniform samples of addresses merge the
  same way (bottom-k of the union).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from seawall.detect.incidents import TOP_ADDRESSES, TOP_PREFIXES
from seawall.detect.sketch import BottomK, HyperLogLog

MAX_OPEN = 100  # host incidents followed at once; the oldest is let go beyond it


@dataclass(slots=True)
class _Host:
    id: str
    start: float
    members: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)

    def last_seen(self) -> float:
        """The latest moment any member was known to be going on."""
        times = [float(m["detected"]) for m in self.members.values()]
        times += [float(m["end"]) for m in self.members.values() if m.get("end") is not None]
        times += [float(m["timeline"][-1][0]) for m in self.members.values() if m.get("timeline")]
        return max(times)


class HostIncidents:
    def __init__(self, quiet: float = 30.0) -> None:
        self.quiet = quiet
        self.hosts: dict[str, _Host] = {}
        self._of: dict[tuple[int, str], str] = {}  # (worker, its incident id) -> host id

    def fold(self, worker: int, report: dict[str, Any]) -> dict[str, Any]:
        """The host incident this worker's report belongs to, merged, ready to save."""
        key = (worker, str(report["id"]))
        host = self.hosts.get(self._of.get(key, ""))
        if host is None:
            host = self._join(report) or self._new(report)
            self._of[key] = host.id
        host.members[key] = report
        merged = merge(host.id, list(host.members.values()))
        if merged["status"] == "closed":
            del self.hosts[host.id]
            self._of = {k: h for k, h in self._of.items() if h != host.id}
        return merged

    def _join(self, report: dict[str, Any]) -> _Host | None:
        start = float(report["start"])
        for host in self.hosts.values():
            if host.start - self.quiet <= start <= host.last_seen() + self.quiet:
                return host
        return None

    def _new(self, report: dict[str, Any]) -> _Host:
        if len(self.hosts) >= MAX_OPEN:
            oldest = min(self.hosts.values(), key=lambda h: h.start)
            del self.hosts[oldest.id]
        host = _Host(f"{report['id']}-host", float(report["start"]))
        self.hosts[host.id] = host
        return host


def merge(host_id: str, members: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from the workers' reports of the same attack."""
    start = min(float(m["start"]) for m in members)
    mitigated = [float(m["mitigated"]) for m in members if m.get("mitigated") is not None]
    ends = [m.get("end") for m in members]
    closed = all(e is not None for e in ends)
    attack = sum(int(m.get("attack_requests", 0)) for m in members)
    leaked = sum(
        float(m.get("leak_after_mitigation", 0.0)) * int(m.get("attack_requests", 0))
        for m in members
    )
    first_mitigation = min(mitigated) if mitigated else None
    return {
        "id": host_id,
        "status": "closed" if closed else "open",
        "workers": sorted({int(m.get("worker", 0)) for m in members}),
        "start": round(start, 3),
        "end": round(max(float(e) for e in ends if e is not None), 3) if closed else None,
        "detected": round(min(float(m["detected"]) for m in members), 3),
        "mitigated": None if first_mitigation is None else round(first_mitigation, 3),
        "time_to_detect_s": round(min(float(m["detected"]) for m in members) - start, 3),
        "time_to_mitigate_s": None
        if first_mitigation is None
        else round(first_mitigation - start, 3),
        "peak_rps": round(sum(float(m.get("peak_rps", 0.0)) for m in members), 1),
        "targets": _union(t for m in members for t in m.get("targets", []))[:10],
        "vectors": sorted({v for m in members for v in m.get("vectors", [])}),
        "signatures": list(
            {s["rule"]: s for m in members for s in m.get("signatures", [])}.values()
        ),
        "actions": _actions(members),
        "sources": _sources(members),
        "attack_requests": attack,
        "leak_after_mitigation": round(leaked / attack, 4) if attack else 0.0,
        "timeline": _timeline(members),
    }


def _union(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


def _actions(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for m in members:
        for a in m.get("actions", []):
            seen.setdefault((a["time"], a["rule"], a["action"], a["step"]), a)
    return sorted(seen.values(), key=lambda a: (a["time"], a["rule"]))


def _sources(members: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("addresses", "prefixes"):
        sketches = [m["sketches"][name] for m in members if "sketches" in m]
        if sketches:
            hll = HyperLogLog.from_registers(bytes.fromhex(sketches[0]))
            for more in sketches[1:]:
                hll.merge(HyperLogLog.from_registers(bytes.fromhex(more)))
            out[name] = round(hll.count())
        else:  # reports without sketches: the largest share is a lower bound
            out[name] = max(int(m.get("sources", {}).get(name, 0)) for m in members)
    for key, name, n in (
        ("top_prefixes", "prefix", TOP_PREFIXES),
        ("top_addresses", "address", TOP_ADDRESSES),
    ):
        top: Counter[str] = Counter()
        for m in members:
            for row in m.get("sources", {}).get(key, []):
                top[row[name]] += int(row["requests"])
        out[key] = [{name: p, "requests": c} for p, c in top.most_common(n)]
    out.update(_sample(members))
    return out


def _sample(members: list[dict[str, Any]]) -> dict[str, Any]:
    """The members' address samples as one: the bottom-k of their union."""
    held = [m.get("sources", {}) for m in members]
    sizes = [int(h["sample_size"]) for h in held if "sample_size" in h]
    if not sizes:
        return {}
    union = BottomK(min(sizes))
    for h in held:
        union.add_many({t: t for t in h.get("sample", []) if isinstance(t, str)})
    return {"sample": union.labels(), "sample_size": union.k}


def _timeline(members: list[dict[str, Any]]) -> list[list[Any]]:
    """Per second: total, attack, per class and per verdict requests/s, summed over workers."""
    per: defaultdict[int, tuple[list[float], Counter[str], Counter[str]]] = defaultdict(
        lambda: ([0.0, 0.0], Counter(), Counter())
    )
    for m in members:
        for point in m.get("timeline", []):
            sums, by_class, by_verdict = per[round(point[0])]
            sums[0] += point[1]
            sums[1] += point[2]
            if len(point) >= 5:
                by_class.update(point[3])
                by_verdict.update(point[4])
    return [
        [float(t), round(a, 1), round(b, 1), _rounded(c), _rounded(v)]
        for t, ([a, b], c, v) in sorted(per.items())
    ]


def _rounded(rates: Counter[str]) -> dict[str, float]:
    return {k: round(r, 1) for k, r in sorted(rates.items())}
