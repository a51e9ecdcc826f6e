"""Lab client addresses drawn from real-world ranges, by country and ASN, seeded.

The lab's legitimate users and its attackers come from the same countries, as in reality, yet
never share an address. `ORIGINS` is a static, reviewed table (about 190 networks in about
150 countries) so a seed always gives the same addresses for a given bundled data release.
It was found by ranking each country's networks in the bundled data by routed IPv4 space,
preferring residential and mobile operators, and every entry was kept only when its routes
are non-empty and at least 80% of its space maps to its country (tests check it). The module
is long because of that table; the code itself is short.

`Labels` is the lab's own answer key, exact address -> class; it never leaves the lab.
"""

from __future__ import annotations

import bisect
import ipaddress
import random
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from seawall.geo.lookup import GeoDb
from seawall.geo.ranges import Held, held_segments

Kind = Literal["residential", "mobile", "hosting", "iot"]
KINDS: frozenset[str] = frozenset(("residential", "mobile", "hosting", "iot"))


@dataclass(frozen=True, slots=True)
class Origin:
    """One real network clients come from: its country, its ASN and what kind of users."""

    country: str
    asn: int
    kind: Kind


ORIGINS: tuple[Origin, ...] = (
    Origin("AD", 6752, "residential"),  # ANDORRA TELECOM, S.A.U.
    Origin("AE", 5384, "mobile"),  # EMIRATES TELECOMMUNICATIONS GROUP COMPANY (ETISALAT GROUP) PJS
    Origin("AL", 42313, "residential"),  # ONE ALBANIA SH.A.
    Origin("AM", 49800, "residential"),  # GNC-Alfa CJSC
    Origin("AO", 37645, "residential"),  # Finstar - Sociedade de Investimento e Participacoes S.A
    Origin("AR", 7303, "residential"),  # Telecom Argentina S.A.
    Origin("AR", 22927, "residential"),  # Telefonica de Argentina
    Origin("AT", 8447, "mobile"),  # A1 Telekom Austria AG
    Origin("AU", 1221, "residential"),  # Telstra Limited
    Origin("AU", 4804, "residential"),  # SingTel Optus Pty Ltd
    Origin("AZ", 39232, "residential"),  # Uninet LLC
    Origin("BA", 9146, "residential"),  # BH Telecom d.d. Sarajevo
    Origin("BB", 14813, "residential"),  # Columbus Telecommunications (Barbados) Limited
    Origin("BD", 7565, "residential"),  # BDCOM Online Limited
    Origin("BD", 24389, "mobile"),  # grameenphone limited
    Origin("BE", 5432, "mobile"),  # Proximus NV
    Origin("BG", 12716, "residential"),  # A1 Bulgaria EAD
    Origin("BH", 51375, "mobile"),  # STC BAHRAIN B.S.C CLOSED
    Origin("BJ", 28683, "residential"),  # SOCIETE BENINOISE D'INFRASTRUCTURES NUMERIQUES
    Origin("BN", 133875, "residential"),  # Brunei Shell Petroleum Company Sdn Bhd
    Origin("BO", 6568, "mobile"),  # EMPRESA NACIONAL DE TELECOMUNICACIONES SOCIEDAD ANONIMA
    Origin("BR", 18881, "residential"),  # TELEFÔNICA BRASIL S.A
    Origin("BR", 26599, "mobile"),  # TELEFÔNICA BRASIL S.A
    Origin("BR", 28573, "residential"),  # Claro NXT Telecomunicacoes Ltda
    Origin("BW", 14988, "residential"),  # Botswana Telecommunications Corporation
    Origin("BY", 6697, "residential"),  # Republican Unitary Telecommunication Enterprise Belteleco
    Origin("BZ", 10269, "residential"),  # Belize Telemedia Limited
    Origin("CA", 577, "residential"),  # Bell Canada
    Origin("CA", 812, "residential"),  # Rogers Communications Canada Inc.
    Origin("CG", 37463, "residential"),  # MTN CONGO
    Origin("CH", 3303, "mobile"),  # Swisscom (Schweiz) AG
    Origin("CI", 29571, "mobile"),  # Orange Côte d'Ivoire
    Origin("CL", 7418, "residential"),  # TELEFÓNICA CHILE S.A.
    Origin("CM", 36912, "mobile"),  # Orange Cameroun SA
    Origin("CN", 4134, "residential"),  # China Telecom
    Origin("CN", 4837, "iot"),  # CNCGROUP IP network of ShangHai IDC
    Origin("CN", 9808, "mobile"),  # China Mobile Communications Corporation
    Origin("CO", 10620, "residential"),  # Telmex Colombia S.A.
    Origin("CR", 11830, "residential"),  # Instituto Costarricense de Electricidad y Telecom.
    Origin("CU", 27725, "mobile"),  # Empresa de Telecomunicaciones de Cuba, S.A.
    Origin("CW", 11081, "residential"),  # United Telecommunication Services (UTS)
    Origin("CY", 6866, "residential"),  # Cyprus Telecommunications Authority
    Origin("CZ", 5610, "residential"),  # O2 Czech Republic, a.s.
    Origin("DE", 3209, "residential"),  # Vodafone GmbH
    Origin("DE", 3320, "residential"),  # Deutsche Telekom AG
    Origin("DE", 24940, "hosting"),  # Hetzner Online GmbH
    Origin("DJ", 30990, "residential"),  # DJIBOUTI TELECOM S.A.
    Origin("DK", 3292, "residential"),  # TDC Holding A/S
    Origin("DO", 6400, "residential"),  # Compañía Dominicana de Teléfonos S. A.
    Origin("DZ", 327712, "residential"),  # Telecom Algeria
    Origin("EC", 27947, "residential"),  # Telconet S.A
    Origin("EE", 3249, "residential"),  # Telia Eesti AS
    Origin("EG", 8452, "iot"),  # TE-AS
    Origin("EG", 36935, "mobile"),  # Vodafone Data
    Origin("ES", 3352, "residential"),  # TELEFONICA DE ESPANA S.A.U.
    Origin("ES", 12479, "mobile"),  # Orange Espagne SA
    Origin("ET", 24757, "mobile"),  # Ethio Telecom
    Origin("FI", 24751, "residential"),  # Jakobstadsnejdens Telefon Ab
    Origin("FO", 15389, "residential"),  # P/F Telefonverkid
    Origin("FR", 3215, "residential"),  # Orange S.A.
    Origin("FR", 12322, "residential"),  # Free SAS
    Origin("GA", 16058, "residential"),  # Gabon Telecom / Office of Posts and Telecommunications o
    Origin("GB", 2856, "residential"),  # British Telecommunications Limited
    Origin("GB", 5089, "residential"),  # Virgin Media Limited
    Origin("GB", 13285, "residential"),  # TalkTalk Communications Limited
    Origin("GE", 16010, "mobile"),  # Magticom Ltd.
    Origin("GE", 35805, "residential"),  # JSC Silknet
    Origin("GH", 30986, "residential"),  # Scancom Limited
    Origin("GI", 8301, "residential"),  # Gibtelecom Ltd.
    Origin("GL", 8818, "mobile"),  # Tusass A/S
    Origin("GM", 37309, "residential"),  # QCell Limited
    Origin("GR", 6799, "residential"),  # Ote SA (Hellenic Telecommunications Organisation)
    Origin("GU", 9246, "residential"),  # TeleGuam Holdings
    Origin("GY", 19863, "residential"),  # Guyana Telephone & Telegraph Co.
    Origin("HK", 4760, "residential"),  # PCCW IMS Limited
    Origin("HR", 5391, "residential"),  # Hrvatski Telekom d.d.
    Origin("HT", 27759, "residential"),  # ACCESS HAITI S.A.
    Origin("HU", 21334, "residential"),  # 2Connect Telecommunications Infrastructure & Network Ser
    Origin("ID", 7713, "residential"),  # Telekomunikasi Indonesia (PT)
    Origin("ID", 23693, "mobile"),  # PT. Telekomunikasi Selular
    Origin("IE", 15502, "residential"),  # Vodafone Ireland Limited
    Origin("IL", 1680, "residential"),  # Cellcom Fixed Line Communication L.P
    Origin("IL", 8551, "residential"),  # Bezeq International Ltd.
    Origin("IM", 13122, "residential"),  # Manx Telecom Trading Ltd
    Origin("IN", 9829, "iot"),  # Bharat Sanchar Nigam Ltd
    Origin("IN", 45609, "mobile"),  # Bharti Airtel Limited
    Origin("IN", 55836, "mobile"),  # Reliance Jio Infocomm Limited
    Origin("IR", 44244, "mobile"),  # Iran Cell Service and Communication Company
    Origin("IR", 58224, "iot"),  # Iran Telecommunication Company PJS
    Origin("IS", 6677, "residential"),  # Mila hf
    Origin("IT", 3269, "residential"),  # Telecom Italia S.p.A.
    Origin("IT", 30722, "mobile"),  # Fastweb SpA
    Origin("JM", 40786, "residential"),  # Digicel Jamaica
    Origin("JO", 8376, "residential"),  # Jordan Data Communications Company LLC
    Origin("JP", 2516, "residential"),  # KDDI CORPORATION
    Origin("JP", 4713, "residential"),  # NTT DOCOMO BUSINESS, Inc.
    Origin("KE", 37061, "residential"),  # Safaricom Limited
    Origin("KG", 41750, "residential"),  # Mega-Line Ltd.
    Origin("KR", 4766, "residential"),  # Korea Telecom
    Origin("KR", 9318, "iot"),  # SK Broadband Co Ltd
    Origin("KW", 42961, "mobile"),  # Mobile Telecommunications Company K.S.C.P.
    Origin("KZ", 9198, "residential"),  # JSC Kazakhtelecom
    Origin("LB", 42003, "residential"),  # OGERO
    Origin("LK", 9329, "residential"),  # Sri Lanka Telecom Ltd
    Origin("LS", 37057, "residential"),  # Vodacom Lesotho (Pty) Ltd
    Origin("LT", 21412, "residential"),  # UAB Cgates
    Origin("LU", 6661, "mobile"),  # POST Luxembourg
    Origin("LV", 24651, "residential"),  # JSC BALTICOM
    Origin("LY", 21003, "residential"),  # General Post and Telecommunication Company (GPTC)
    Origin("MA", 36903, "iot"),  # Office National des Postes et Telecommunications ONPT (Maroc Tel
    Origin("MC", 6758, "mobile"),  # Monaco Telecom S.A.
    Origin("MD", 8926, "residential"),  # Moldtelecom SA
    Origin("ME", 8585, "residential"),  # Crnogorski Telekom a.d.Podgorica
    Origin("MG", 37054, "mobile"),  # Telecom Malagasy
    Origin("MK", 43612, "residential"),  # Company for communications services A1 Makedonija DOOEL
    Origin("ML", 30985, "residential"),  # Orange Mali SA
    Origin("MO", 4609, "mobile"),  # Companhia de Telecomunicacoes de Macau
    Origin("MQ", 20776, "residential"),  # Outremer Telecom SAS
    Origin("MT", 15735, "mobile"),  # GO p.l.c.
    Origin("MU", 30999, "mobile"),  # EMTEL LIMITED
    Origin("MW", 37294, "residential"),  # TELEKOM NETWORKS MALAWI LTD
    Origin("MX", 8151, "residential"),  # Uninet S.A. de C.V.
    Origin("MY", 4788, "residential"),  # TM TECHNOLOGY SERVICES SDN BHD
    Origin("MZ", 37223, "residential"),  # Vodacom Mocambique S.A
    Origin("NA", 37009, "residential"),  # MTC - Mobile Telecommunications, Ltd.
    Origin("NC", 56089, "residential"),  # OFFRATEL
    Origin("NG", 29465, "mobile"),  # MTN NIGERIA Communication limited
    Origin("NI", 27761, "residential"),  # Cablenet S.A
    Origin("NL", 1136, "residential"),  # KPN B.V.
    Origin("NL", 33915, "residential"),  # Vodafone Libertel B.V.
    Origin("NO", 2119, "mobile"),  # Telenor Norge AS
    Origin("NP", 17501, "residential"),  # WorldLink Communications
    Origin("NZ", 9500, "mobile"),  # One New Zealand Group Limited
    Origin("OM", 28885, "residential"),  # Oman Telecommunications Company (S.A.O.G)
    Origin("PA", 11556, "mobile"),  # Cable & Wireless Panama
    Origin("PE", 6147, "residential"),  # INTEGRATEL PERÚ S.A.A.
    Origin("PH", 9299, "residential"),  # Philippine Long Distance Telephone Co.
    Origin("PH", 10139, "mobile"),  # Smart Broadband, Inc.
    Origin("PK", 45595, "residential"),  # Pakistan Telecom Company Limited
    Origin("PL", 5617, "residential"),  # Orange Polska Spolka Akcyjna
    Origin("PR", 10396, "residential"),  # DATACOM CARIBE, INC.
    Origin("PS", 12975, "residential"),  # Palestine Telecommunications Company (PALTEL)
    Origin("PT", 12353, "mobile"),  # Vodafone Portugal - Communicacoes Pessoais S.A.
    Origin("PY", 23201, "mobile"),  # Telecel S.A.
    Origin("QA", 8781, "mobile"),  # Ooredoo Q.S.C.
    Origin("RO", 8708, "mobile"),  # DIGI ROMANIA S.A.
    Origin("RS", 41897, "residential"),  # Sat-Trakt D.O.O.
    Origin("RU", 8359, "mobile"),  # MTS PJSC
    Origin("RU", 12389, "residential"),  # PJSC Rostelecom
    Origin("RU", 31213, "mobile"),  # PJSC MegaFon
    Origin("RW", 36890, "residential"),  # MTN Rwandacell
    Origin("SA", 25019, "residential"),  # Saudi Telecom Company JSC
    Origin("SA", 39891, "mobile"),  # Saudi Telecom Company JSC
    Origin("SC", 37518, "residential"),  # Fiber Grid INC
    Origin("SD", 15706, "residential"),  # Sudatel (Sudan Telecom Co. Ltd)
    Origin("SE", 29518, "residential"),  # Bredband2 AB
    Origin("SG", 4773, "mobile"),  # M1 LIMITED
    Origin("SG", 9506, "residential"),  # Singapore Telecommunications Ltd, Magix Services
    Origin("SI", 21283, "residential"),  # A1 Slovenija telekomunikacijske storitve,d.d.
    Origin("SK", 8257, "residential"),  # Slovanet a.s.
    Origin("SN", 8346, "residential"),  # SONATEL-AS Autonomous System
    Origin("SV", 27773, "residential"),  # MILLICOM CABLE EL SALVADOR S.A. DE C.V.
    Origin("SY", 29256, "mobile"),  # Syrian Telecommunication Private Closed Joint Stock Company
    Origin("TG", 24691, "mobile"),  # TogoTelecom, Togo
    Origin("TH", 7470, "residential"),  # KGI Securities (Thailand) Public Company Limited
    Origin("TH", 45758, "residential"),  # Triple T Broadband Public Company Limited
    Origin("TN", 37693, "mobile"),  # OOREDOO TUNISIE SA
    Origin("TR", 9121, "residential"),  # Turk Telekomunikasyon Anonim Sirketi
    Origin("TR", 16135, "mobile"),  # TURKCELL ILETISIM HIZMETLERI A.S.
    Origin("TT", 27665, "residential"),  # Columbus Communications Trinidad Limited.
    Origin("TW", 3462, "iot"),  # Chunghwa Telecom Co., Ltd.
    Origin("TZ", 37133, "mobile"),  # Airtel Tanzania
    Origin("UA", 6849, "residential"),  # JSC Ukrtelecom
    Origin("UA", 15895, "mobile"),  # Kyivstar PJSC
    Origin("UG", 37075, "mobile"),  # Airtel Uganda Limited
    Origin("US", 701, "residential"),  # Verizon Business
    Origin("US", 7018, "residential"),  # AT&T Enterprises, LLC
    Origin("US", 7922, "residential"),  # Comcast Cable Communications, LLC
    Origin("US", 14061, "hosting"),  # DigitalOcean, LLC
    Origin("US", 21928, "mobile"),  # T-Mobile USA, Inc.
    Origin("UY", 6057, "residential"),  # Administracion Nacional de Telecomunicaciones
    Origin("UZ", 8193, "residential"),  # Uzbektelekom Joint Stock Company
    Origin("VE", 8048, "iot"),  # CANTV Servicios, Venezuela
    Origin("VG", 9142, "residential"),  # Internexus Networks Limited
    Origin("VI", 14434, "residential"),  # VI POWERNET, LLC
    Origin("VN", 7552, "mobile"),  # Viettel Group
    Origin("VN", 45899, "iot"),  # Vietnam Posts and Telecommunications (VNPT)
    Origin("YE", 30873, "residential"),  # Public Telecommunication Corporation
    Origin("ZA", 29975, "mobile"),  # Vodacom
    Origin("ZA", 37457, "residential"),  # Telkom SA Ltd.
    Origin("ZM", 37287, "mobile"),  # Zain Zambia PLC
)

# fmt: off
# Rough internet users per country, in millions (ITU/DataReportal orders of magnitude);
# countries of the table that are not named weigh 1.
USERS: Mapping[str, float] = {
    "CN": 1050, "IN": 750, "US": 310, "ID": 210, "BR": 180, "RU": 130, "JP": 100,
    "NG": 100, "MX": 100, "PK": 90, "BD": 70, "PH": 85, "VN": 78, "EG": 80, "DE": 78,
    "TR": 72, "IR": 70, "GB": 66, "FR": 60, "TH": 60, "IT": 51, "KR": 50, "ES": 45,
    "AR": 40, "CO": 38, "ZA": 43, "PL": 33, "CA": 37, "SA": 35, "MY": 30, "UA": 30,
    "PE": 25, "MA": 31, "DZ": 33, "VE": 20, "AU": 25, "TW": 21, "KZ": 17, "CL": 17,
    "NL": 16, "IQ": 30, "ET": 20, "KE": 22, "UZ": 25, "RO": 17, "EC": 13, "GH": 20,
    "SE": 10, "BE": 11, "CZ": 10, "PT": 9, "GR": 8, "HU": 8, "CH": 8, "AT": 8,
    "IL": 8, "AE": 10, "SY": 7, "TN": 8, "DO": 9, "GT": 10, "BO": 8, "SN": 10, "HK": 7,
    "SG": 5, "DK": 6, "NO": 5, "FI": 5, "IE": 5, "NZ": 5, "GE": 3, "BY": 8, "CU": 8,
}

# Where Mirai-class botnets live: many cheap, exposed home devices on large national ISPs.
IOT_WEIGHTS: Mapping[str, float] = {
    "BR": 12, "VN": 10, "CN": 10, "IN": 9, "ID": 7, "RU": 7, "TR": 6, "EG": 6, "IR": 6,
    "MX": 5, "TW": 5, "KR": 5, "TH": 4, "AR": 3, "VE": 3, "MA": 3, "CO": 3, "UA": 3,
    "PK": 3, "BD": 2, "PH": 2, "DZ": 2, "IQ": 2, "ZA": 2, "US": 4,
}

WESTERN: tuple[str, ...] = (
    "US", "GB", "DE", "FR", "CA", "AU", "NL", "ES", "IT", "SE", "BE", "CH", "AT", "IE",
    "NO", "DK", "FI", "PT", "NZ", "PL",
)

# fmt: on


@dataclass(frozen=True, slots=True)
class Mix:
    """Where a crowd comes from: a weight per country, and which kinds of network count."""

    name: str
    weights: tuple[tuple[str, float], ...]
    kinds: frozenset[str] = frozenset(("residential", "mobile"))

    @classmethod
    def of(cls, name: str, weights: Mapping[str, float], kinds: Iterable[str] = ()) -> Mix:
        chosen = frozenset(kinds) or frozenset(("residential", "mobile"))
        unknown = chosen - KINDS
        if unknown:
            raise ValueError(f"mix {name}: unknown kinds {sorted(unknown)}")
        pairs = tuple(sorted((c.upper(), float(w)) for c, w in weights.items() if w > 0))
        return cls(name, pairs, chosen)

    def origins(self) -> tuple[tuple[Origin, float], ...]:
        """Every table entry the mix can draw from, with its weight (shared in a country)."""
        out: list[tuple[Origin, float]] = []
        for country, weight in self.weights:
            found = [o for o in ORIGINS if o.country == country and o.kind in self.kinds]
            out += [(origin, weight / len(found)) for origin in found]
        if not out:
            raise ValueError(f"mix {self.name}: no origin in the table matches it")
        return tuple(out)


def _countries(kinds: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted({o.country for o in ORIGINS if o.kind in kinds}))


WORLD = Mix.of(
    "world", {c: USERS.get(c, 1.0) for c in _countries(frozenset(("residential", "mobile")))}
)
IOT = Mix.of("iot", IOT_WEIGHTS, ("residential", "mobile", "iot"))
WESTERN_USERS = Mix.of("western_users", {c: USERS.get(c, 1.0) for c in WESTERN})
HOSTING = Mix.of("hosting", {o.country: 1.0 for o in ORIGINS if o.kind == "hosting"}, ("hosting",))
MIXES: Mapping[str, Mix] = {m.name: m for m in (WORLD, IOT, WESTERN_USERS, HOSTING)}

_HELD: dict[int, Held] = {}


def _held(asns: Iterable[int]) -> dict[int, Held]:
    """Held space per ASN, read once per process (the table bounds this cache)."""
    wanted = list(asns)
    missing = sorted({a for a in wanted if a not in _HELD})
    if missing:
        _HELD.update(held_segments(missing))
    return {a: _HELD[a] for a in wanted}


@dataclass(frozen=True, slots=True)
class Drawn:
    """One drawn address and the origin it was drawn from."""

    address: str
    origin: Origin


@dataclass(slots=True)
class AddressPlan:
    """A seeded source of distinct addresses: one plan per lab run shares its exclusions."""

    seed: int
    taken: set[int] = field(default_factory=set)
    max_tries: int = 50

    def draw(self, count: int, mix: Mix, exclude: Iterable[str] = ()) -> tuple[Drawn, ...]:
        """`count` new addresses: never private, never .0/.255, never taken or excluded."""
        if count < 0:
            raise ValueError("count must not be negative")
        for text in exclude:
            self.taken.add(int(ipaddress.IPv4Address(text)))
        weighted = mix.origins()
        held = _held(o.asn for o, _ in weighted)
        usable = [(o, w) for o, w in weighted if held[o.asn].segments]
        rng = random.Random(f"{self.seed}:{mix.name}:{len(self.taken)}:{count}")
        origins = [o for o, _ in usable]
        picks = rng.choices(origins, weights=[w for _, w in usable], k=count)
        tables = {o.asn: _table(held[o.asn]) for o in origins}
        return tuple(Drawn(self._one(rng, tables[o.asn], mix), o) for o in picks)

    def _one(self, rng: random.Random, table: _Table, mix: Mix) -> str:
        starts, totals = table
        for _ in range(self.max_tries):
            offset = rng.randrange(totals[-1])
            index = bisect.bisect_right(totals, offset)
            value = starts[index] + offset - (totals[index - 1] if index else 0)
            if value & 0xFF in (0, 0xFF) or value in self.taken:
                continue
            address = ipaddress.IPv4Address(value)
            if not address.is_global:
                continue
            self.taken.add(value)
            return str(address)
        raise ValueError(f"mix {mix.name}: could not find a free address in a network")


_Table = tuple[list[int], list[int]]


def _table(held: Held) -> _Table:
    starts = [start for start, _ in held.segments]
    totals: list[int] = []
    running = 0
    for start, end in held.segments:
        running += end - start
        totals.append(running)
    return starts, totals


def draw(seed: int, count: int, mix: Mix = WORLD, exclude: Collection[str] = ()) -> tuple[str, ...]:
    """`count` distinct seeded addresses from `mix`, none of them in `exclude`."""
    return tuple(d.address for d in AddressPlan(seed).draw(count, mix, exclude))


class LabelConflict(ValueError):
    """An address was labelled with two different classes: the lab's own bug."""


class Labels:
    """The lab's answer key: exact address -> class name. It never leaves the lab."""

    __slots__ = ("_by_address",)

    def __init__(self) -> None:
        self._by_address: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_address)

    def add(self, addresses: Iterable[str], klass: str) -> None:
        """Label addresses; an address already labelled differently raises LabelConflict."""
        batch = list(addresses)
        for address in batch:
            held = self._by_address.get(address)
            if held is not None and held != klass:
                raise LabelConflict(f"{address} is already {held!r}, not {klass!r}")
        for address in batch:
            self._by_address[address] = klass

    def klass_of(self, address: str) -> str | None:
        return self._by_address.get(address)

    def by_class(self) -> dict[str, int]:
        return dict(sorted(Counter(self._by_address.values()).items()))

    def countries(self, geo: GeoDb) -> dict[str, dict[str, int]]:
        """Per class, how many addresses each country has (None counts as "??")."""
        out: dict[str, Counter[str]] = {}
        for address, klass in self._by_address.items():
            country = geo.lookup(address).country or "??"
            out.setdefault(klass, Counter())[country] += 1
        return {k: dict(c.most_common()) for k, c in sorted(out.items())}
