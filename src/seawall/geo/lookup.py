"""Country, ASN and network type of an address: bundled data by default, a user's `.mmdb` files
on request.

The network type is a word from `NETWORK_TYPES` ("hosting", "residential", "mobile",
"business", ...) when the data says one, else None. MaxMind's Enterprise (or DB-IP's
compatible) files say it per address (`traits.user_type`, `traits.connection_type`), the
Connection-Type file per address (`connection_type`). The bundled data says it per network:
plevin stores the operator's category (from PeeringDB's self-declared type and bgp.tools'
tags, such as mobile, dsl or VPS hosting) and, for a few published ranges, the address's own
type; an operator tagged mobile is "mobile" for all its addresses, broadband included.
"""

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
    """What is known of one address: ISO 3166 alpha-2 country, ASN, its holder and the kind of
    network (a `NETWORK_TYPES` word) when the data says it."""

    country: str | None = None
    asn: int | None = None
    as_org: str | None = None
    network_type: str | None = None


EMPTY = GeoInfo()

# The data's words for the kind of network, to ours. user_type (MaxMind's and plevin's
# categories) is per address or operator; a word not listed here is kept as the data says it.
NETWORK_TYPES: dict[str, str] = {
    "hosting": "hosting",
    "residential": "residential",
    "cellular": "mobile",
    "business": "business",
    "content_delivery_network": "cdn",
    "cdn": "cdn",
}
# connection_type (MaxMind Connection-Type and Enterprise): the access technology.
CONNECTION_TYPES: dict[str, str] = {
    "Cellular": "mobile",
    "Cable/DSL": "residential",
    "Corporate": "business",
    "Satellite": "satellite",
    "Dialup": "dialup",
}


def network_type(user_type: object = None, connection_type: object = None) -> str | None:
    """Our word for a network's kind: the user type when given (it is the more specific),
    else the connection type; None when neither is a known non-empty word."""
    if isinstance(user_type, str) and user_type:
        return NETWORK_TYPES.get(user_type, user_type)
    if isinstance(connection_type, str) and connection_type:
        return CONNECTION_TYPES.get(connection_type)
    return None


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


_Network = tuple[int | None, str | None, str | None]  # ASN, its holder, network type


class BundledGeo:
    """iptocc for the country, plevin for the network, with a bounded LRU of network answers."""

    def __init__(self, cache_size: int = DEFAULT_CACHE) -> None:
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        self.cache_size = cache_size
        self._networks: OrderedDict[str, _Network] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def source(self) -> str:
        built = plevin.database().built
        return (
            f"bundled: iptocc (RIR delegations) + plevin network {built}"
            " (network type per operator)"
        )

    def lookup(self, address: str) -> GeoInfo:
        parsed = global_address(address)
        if parsed is None:
            return EMPTY
        text = str(parsed)
        asn, org, kind = self._network(text)
        return GeoInfo(iptocc.country_code(text), asn, org, kind)

    def _network(self, text: str) -> _Network:
        held = self._networks.get(text)
        if held is not None:
            self.hits += 1
            self._networks.move_to_end(text)
            return held
        self.misses += 1
        network = plevin.lookup(text).network
        if network is None or network.asn is None:
            answer: _Network = (None, None, None)
        else:
            operator = network.operator
            org = operator.company if operator is not None else None
            # the address's own type where plevin has one, else its operator's category
            carrier = network.carrier
            kind = network_type(carrier.user_type if carrier is not None else None)
            answer = (network.asn, org or network.handle, kind)
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


def _traits(record: Any) -> dict[str, Any]:
    held = record.get("traits") if isinstance(record, dict) else None
    return held if isinstance(held, dict) else {}


def _asn(record: Any) -> tuple[int | None, str | None]:
    """ASN and holder from an ASN/ISP record (top level) or an Enterprise one (traits)."""
    if not isinstance(record, dict):
        return None, None
    held = record if "autonomous_system_number" in record else _traits(record)
    number = held.get("autonomous_system_number")
    name = held.get("autonomous_system_organization")
    return (
        number if isinstance(number, int) and not isinstance(number, bool) else None,
        name if isinstance(name, str) else None,
    )


def _network_type(record: Any) -> str | None:
    """From an Enterprise record (traits) or a Connection-Type one (top level)."""
    if not isinstance(record, dict):
        return None
    traits = _traits(record)
    connection = traits.get("connection_type", record.get("connection_type"))
    return network_type(traits.get("user_type"), connection)


class MmdbGeo:
    """A user's MaxMind or DB-IP files: a country (or city, or enterprise) database, an ASN
    database and a network-type (connection-type or enterprise) database, any of them.

    An Enterprise file named as the country database also answers ASN (when no ASN file is
    named) and network type (when no network-type file is, or it has no answer)."""

    def __init__(
        self,
        country_path: Path | None = None,
        asn_path: Path | None = None,
        network_path: Path | None = None,
    ) -> None:
        if country_path is None and asn_path is None and network_path is None:
            raise GeoDataError(
                "MmdbGeo needs a country database, an ASN database or a network-type database"
            )
        self._country = (
            None
            if country_path is None
            else _open(country_path, "country", ("Country", "City", "Enterprise"))
        )
        self._asn = None if asn_path is None else _open(asn_path, "ASN", ("ASN", "ISP"))
        self._network = (
            None
            if network_path is None
            else _open(network_path, "network-type", ("Connection-Type", "Enterprise"))
        )
        named = [str(p) for p in (country_path, asn_path, network_path) if p is not None]
        self._source = "mmdb: " + ", ".join(named)

    @property
    def source(self) -> str:
        return self._source

    def lookup(self, address: str) -> GeoInfo:
        parsed = global_address(address)
        if parsed is None:
            return EMPTY
        place = None if self._country is None else self._country.get(parsed)
        asn, org = _asn(place if self._asn is None else self._asn.get(parsed))
        kind = None if self._network is None else _network_type(self._network.get(parsed))
        return GeoInfo(_country(place), asn, org, kind or _network_type(place))

    def close(self) -> None:
        for reader in (self._country, self._asn, self._network):
            if reader is not None:
                reader.close()


def open_geo(
    country_mmdb: Path | None = None,
    asn_mmdb: Path | None = None,
    network_mmdb: Path | None = None,
) -> GeoDb:
    """The user's `.mmdb` files when any is named, else the bundled data."""
    if country_mmdb is not None or asn_mmdb is not None or network_mmdb is not None:
        return MmdbGeo(country_mmdb, asn_mmdb, network_mmdb)
    return BundledGeo()
