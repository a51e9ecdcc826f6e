"""One entry for imports: a STIX bundle or a plain list, told apart when asked to."""

from __future__ import annotations

from seawall.intel.indicators import DEFAULT_READING, IntelError, Parsed, Reading
from seawall.intel.lists import parse_list
from seawall.intel.stix import parse_stix

FORMATS = ("auto", "stix", "list")
# what the admin API accepts, by Content-Type
CONTENT_TYPES = {
    "application/stix+json": "stix",
    "application/json": "stix",
    "text/plain": "list",
}


def sniff(data: bytes | str) -> str:
    """'stix' for anything that starts like a JSON object, else 'list'."""
    head = data[:4096].lstrip()
    if isinstance(head, bytes):
        head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        return "stix" if head.startswith(b"{") else "list"
    return "stix" if head.removeprefix("\ufeff").lstrip().startswith("{") else "list"


def parse_feed(
    data: bytes | str, where: str, now: float, fmt: str = "auto", reading: Reading = DEFAULT_READING
) -> tuple[str, Parsed]:
    """(the format read, what it held). IntelError when the input cannot be read at all."""
    if fmt not in FORMATS:
        raise IntelError(where, f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    chosen = sniff(data) if fmt == "auto" else fmt
    if chosen == "stix":
        return chosen, parse_stix(data, where, now, reading)
    return chosen, parse_list(data, where, now, reading)
