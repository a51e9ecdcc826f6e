"""Country and ASN of an address: bundled data by default, a user's `.mmdb` files on request."""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import iptocc
import maxminddb
import plevin

DEFAULT_CACHE = 65_536


class GeoDataError(ValueError):
    """A geo database the operator named cannot be used: the message names the file."""


@dataclass(frozen=True, slots=True)
class GeoInfo:
    """What is known of one address: ISO 3166 alpha-2 country, ASN and its holder."""

    country: str | None = None
    asn: int | None = None
    as_org: str | None = None


EMPTY = GeoInfo()


class GeoDb(Protocol):
    """Anything that answers country and ASN for an address, and says which data it reads."""

    @property
    def source(self) -> str: ...

    def lookup(self, address: str) -> GeoInfo: ...


def global_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The parsed address when it is globally routable, else None (bad text included)."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    return parsed if parsed.is_global and not parsed.is_multicast else None


class BundledGeo:
    """iptocc for the country, plevin for the network, with a bounded LRU of network answers."""

    def __init__(self, cache_size: int = DEFAULT_CACHE) -> None:
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        self.cache_size = cache_size
        self._networks: OrderedDict[str, tuple[int | None, str | None]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def source(self) -> str:
        built = plevin.database().built
        return f"bundled: iptocc (RIR delegations) + plevin network {built}"

    def lookup(self, address: str) -> GeoInfo:
        parsed = global_address(address)
        if parsed is None:
            return EMPTY
        text = str(parsed)
        asn, org = self._network(text)
        return GeoInfo(country=iptocc.country_code(text), asn=asn, as_org=org)

    def _network(self, text: str) -> tuple[int | None, str | None]:
        held = self._networks.get(text)
        if held is not None:
            self.hits += 1
            self._networks.move_to_end(text)
            return held
        self.misses += 1
        network = plevin.lookup(text).network
        if network is None or network.asn is None:
            answer: tuple[int | None, str | None] = (None, None)
        else:
            operator = network.operator
            org = operator.company if operator is not None else None
            answer = (network.asn, org or network.handle)
        self._networks[text] = answer
        if len(self._networks) > self.cache_size:
            self._networks.popitem(last=False)
        return answer


def _open(path: Path, kind: str, wanted: tuple[str, ...]) -> maxminddb.Reader:
    try:
        reader = maxminddb.open_database(str(path))
    except FileNotFoundError as exc:
        raise GeoDataError(f"{kind} database {path}: no such file") from exc
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise GeoDataError(f"{kind} database {path}: not a readable MaxMind DB ({exc})") from exc
    database_type = str(reader.metadata().database_type)
    if not any(word in database_type for word in wanted):
        reader.close()
        raise GeoDataError(
            f"{kind} database {path}: type {database_type!r} is not a {kind} database"
        )
    return reader


def _country(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    for key in ("country", "registered_country"):
        held = record.get(key)
        if isinstance(held, dict) and isinstance(held.get("iso_code"), str):
            return str(held["iso_code"])
    return None


class MmdbGeo:
    """A user's MaxMind or DB-IP files: a country (or city) database, an ASN database, or both."""

    def __init__(self, country_path: Path | None = None, asn_path: Path | None = None) -> None:
        if country_path is None and asn_path is None:
            raise GeoDataError("MmdbGeo needs a country database, an ASN database or both")
        self._country = (
            None if country_path is None else _open(country_path, "country", ("Country", "City"))
        )
        self._asn = None if asn_path is None else _open(asn_path, "ASN", ("ASN",))
        named = [str(p) for p in (country_path, asn_path) if p is not None]
        self._source = "mmdb: " + ", ".join(named)

    @property
    def source(self) -> str:
        return self._source

    def lookup(self, address: str) -> GeoInfo:
        parsed = global_address(address)
        if parsed is None:
            return EMPTY
        country = None if self._country is None else _country(self._country.get(parsed))
        asn: int | None = None
        org: str | None = None
        if self._asn is not None:
            record = self._asn.get(parsed)
            if isinstance(record, dict):
                number = record.get("autonomous_system_number")
                asn = number if isinstance(number, int) else None
                name = record.get("autonomous_system_organization")
                org = name if isinstance(name, str) else None
        return GeoInfo(country=country, asn=asn, as_org=org)

    def close(self) -> None:
        for reader in (self._country, self._asn):
            if reader is not None:
                reader.close()


def open_geo(country_mmdb: Path | None = None, asn_mmdb: Path | None = None) -> GeoDb:
    """The user's `.mmdb` files when any is named, else the bundled data."""
    if country_mmdb is not None or asn_mmdb is not None:
        return MmdbGeo(country_mmdb, asn_mmdb)
    return BundledGeo()
