"""Warnings tell people what happened and what to do, and nothing an attacker could use;
digests give operators the evidence, escaped and without clear identifiers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import msgspec

from seawall.accounts.compose import (
    DIGEST,
    WARNING,
    DigestAlert,
    compose_digest,
    compose_warning,
    scrub,
    short_hash,
)
from seawall.accounts.events import Campaign

START = datetime(2024, 5, 1, 12, 51, 30, tzinfo=UTC).timestamp()
LAST = datetime(2024, 5, 1, 13, 26, 40, tzinfo=UTC).timestamp()
ME = "a1" * 16
OTHERS = ("b2" * 16, "c3" * 16, "d4" * 16)
HIGH = "c3" * 16


def evidence_campaign(**over: object) -> Campaign:
    """A campaign carrying every kind of evidence there is."""
    fields: dict[str, object] = {
        "id": "cmp-7f3a9",
        "kind": "targeted",
        "start": START,
        "last": LAST,
        "confidence": 0.87,
        "accounts": (ME, *OTHERS),
        "detectors": ("distributed_guessing", "shared_fingerprint"),
        "sources": 37,
        "prefixes": 9,
        "asns": 4,
        "top_sources": ("203.0.113.77", "2001:db8::bad"),
        "top_prefixes": ("198.51.100.0/24",),
        "top_asns": (64512, 65001),
        "fingerprints": ("h2-fp-zq81",),
        "high_risk": (HIGH,),
        "harvesting": False,
        "evidence": (("min_sources", 8.0), ("country_freedonia", 31.0), ("failures", 412.0)),
    }
    fields.update(over)
    return msgspec.convert(fields, Campaign)


def leaks(campaign: Campaign, rendered: str) -> list[str]:
    """Every piece of evidence from `campaign` found in `rendered`."""
    found = []
    pieces = [
        *campaign.top_sources,
        *campaign.top_prefixes,
        "203.0.113",
        "198.51.100",
        "2001:db8",
        *(str(a) for a in campaign.top_asns),
        *campaign.fingerprints,
        *campaign.detectors,
        "guessing",
        "fingerprint",
        *(k for k, _ in campaign.evidence),
        "freedonia",
        campaign.id,
        *campaign.accounts,
        *(a[:12] for a in campaign.accounts),
        "12:51",
        "13:26",
    ]
    low = rendered.lower()
    found += [p for p in pieces if p.lower() in low]
    # the only numbers a warning may hold are the day it began: no counts, no times
    allowed = {"2024", "05", "01"}
    visible = re.sub(r"<[^>]*>", " ", rendered)  # markup such as <h2> or utf-8 is no leak
    found += [n for n in re.findall(r"\d+", visible) if n not in allowed]
    return found


def test_a_warning_reveals_none_of_the_evidence() -> None:
    for harvesting in (False, True):
        c = evidence_campaign(harvesting=harvesting)
        alert = compose_warning(c, ME, "jane@example.org", "Example Social", LAST + 60)
        for part in (alert.subject, alert.text, alert.html):
            assert leaks(c, part) == [], part


def test_the_leak_check_itself_sees_evidence() -> None:
    c = evidence_campaign()
    assert "203.0.113.77" in leaks(c, "from 203.0.113.77 at 12:51")
    assert "37" in leaks(c, "37 addresses")
    assert leaks(c, "Since 2024-05-01") == []
    assert leaks(c, '<p style="x: 1.5em">Since 2024-05-01</p>') == []
    assert leaks(c, "<p>412 tries</p>") == ["412"]


def test_a_warning_says_what_happened_what_we_did_and_what_to_do() -> None:
    c = evidence_campaign()
    alert = compose_warning(c, ME, "jane@example.org", "Example Social", LAST + 60)
    assert alert.kind == WARNING
    assert alert.id == f"{c.id}:{ME}"
    assert alert.account == ME
    assert alert.recipient == "jane@example.org"
    assert alert.campaign == c.id
    assert "Example Social" in alert.subject
    text = " ".join(alert.text.split())
    for phrase in (
        "Since 2024-05-01, someone has been trying to get into your account.",
        "one of a small group that appear to have been targeted together",
        "extra verification on sign-ins",
        "slowed down the attempts",
        "Your account is not locked, and you can sign in as usual.",
        "two-factor authentication",
        "active sessions and signed-in devices",
        "a password that you use nowhere else",
        "asking for a sign-in or verification code",
    ):
        assert phrase in text
    assert "registered with us" not in text
    html = " ".join(alert.html.split())
    assert "two-factor authentication" in html
    assert "<strong>Your account is not locked, and you can sign in as usual.</strong>" in html


def test_a_warning_words_lookups_and_sign_ins_by_what_was_seen() -> None:
    both = compose_warning(evidence_campaign(harvesting=True), ME, "", "X", LAST)
    text = " ".join(both.text.split())
    assert "trying to get into your account and to find out whether your email" in text
    lookups_only = evidence_campaign(harvesting=True, detectors=("recovery_harvesting",))
    text = " ".join(compose_warning(lookups_only, ME, "", "X", LAST).text.split())
    assert "find out whether your email address or phone number is registered with us" in text
    assert "get into your account" not in text


def test_warning_ids_are_stable_and_the_recipient_may_be_unknown() -> None:
    c = evidence_campaign()
    one = compose_warning(c, ME, "", "X", LAST)
    two = compose_warning(c, ME, "", "X", LAST + 999)
    assert one.id == two.id == f"{c.id}:{ME}"
    assert one.recipient == ""
    assert one.text == two.text  # the time of sending shows nowhere


def test_a_hostile_site_name_is_escaped_in_html_and_stripped_of_controls() -> None:
    site = '<script>alert(1)</script> "Ex" \u202eevil\x1b[31m'
    alert = compose_warning(evidence_campaign(), ME, "", site, LAST)
    assert "<script>" not in alert.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in alert.html
    for part in (alert.subject, alert.text, alert.html):
        assert "\u202e" not in part
        assert "\x1b" not in part
    assert "\n" not in alert.subject


def test_a_digest_carries_the_evidence_for_operators() -> None:
    c = evidence_campaign(decision="confirmed")
    actions = ["step-up on sign-ins to 4 accounts", "throttled 37 sources"]
    d = compose_digest(c, "Example Social", LAST + 60, 3, actions, "https://admin.example:9443")
    assert isinstance(d, DigestAlert)
    assert d.kind == DIGEST
    assert d.id == "cmp-7f3a9:digest:1"
    assert d.account == "" and d.recipient == ""
    text = d.text
    for needle in (
        "targeted",
        "0.87",
        "2024-05-01T12:51:30Z",
        "2024-05-01T13:26:40Z",
        "Accounts: 4 (1 high-risk)",
        ME[:12],
        f"{HIGH[:12]}  high-risk",
        "distributed_guessing, shared_fingerprint",
        "37 addresses, 9 prefixes, 4 networks",
        "203.0.113.77, 2001:db8::bad",
        "198.51.100.0/24",
        "AS64512, AS65001",
        "h2-fp-zq81",
        "country_freedonia = 31",
        "step-up on sign-ins to 4 accounts",
        "throttled 37 sources",
        "Warnings sent to account owners: 3",
        "Decision:    confirmed",
        "POST /v1/campaigns/cmp-7f3a9/confirm",
        "POST /v1/campaigns/cmp-7f3a9/dismiss",
        "https://admin.example:9443",
    ):
        assert needle in text, needle
    for full in c.accounts:
        assert full not in text and full not in d.html
    assert "POST /v1/campaigns/cmp-7f3a9/confirm" in d.html
    assert "4 accounts" in d.subject and "cmp-7f3a9" in d.subject
    assert d.summary["accounts"] == 4
    assert d.summary["high_risk"] == 1
    assert d.summary["listed_high_risk"] == [HIGH[:12]]
    assert d.summary["top_asns"] == [64512, 65001]
    assert d.summary["evidence"]["failures"] == 412.0
    assert compose_digest(c, "X", LAST, 0, [], "", seq=2).id == "cmp-7f3a9:digest:2"


def test_a_digest_never_shows_an_identifier_in_clear() -> None:
    c = evidence_campaign(accounts=("jane@example.org", ME), high_risk=("jane@example.org",))
    d = compose_digest(c, "X", LAST, 0, [], "")
    blob = d.text + d.html + msgspec.json.encode(d.summary).decode()
    assert "jane" not in blob
    assert short_hash("jane@example.org") in d.text
    assert len(short_hash("jane@example.org")) == 12


def test_a_digest_escapes_hostile_values() -> None:
    evil = '<img src=x onerror="alert(1)">'
    c = evidence_campaign(
        id="cmp-<b>",
        top_sources=(evil, "1.2.3.4\u202e\u200b"),
        fingerprints=("fp\x1b[2J<i>",),
        detectors=("det</td><script>",),
        evidence=(("<k>\n", 1.0),),
        top_prefixes=("p\u2066x\u2069",),
    )
    d = compose_digest(c, "<Site>", LAST, 1, ["<act>"], "<hint>")
    html = d.html
    for raw in ("<img", "<b>", "<script>", "<i>", "<k>", "<act>", "<hint>", "<Site>"):
        assert raw not in html, raw
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "&lt;act&gt;" in html
    for part in (d.text, html, d.subject):
        for ch in ("\u202e", "\u200b", "\x1b", "\u2066", "\u2069"):
            assert ch not in part
    assert "\n" not in d.subject
    # the admin API path is escaped for the URL, whatever the campaign id
    assert "/v1/campaigns/cmp-%3Cb%3E/confirm" in d.text


def test_scrub_strips_controls_and_bidi_and_bounds_length() -> None:
    assert scrub("a\u202eb\u200bc\x00d\x1be") == "abcde"
    assert scrub("line\nbreak\ttab") == "line break tab"
    assert scrub("x" * 500, 10) == "x" * 9 + "…"
    assert scrub(64512) == "64512"
