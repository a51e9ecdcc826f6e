"""Forensic incident reports: sources enriched with geo/ASN data, their dispersion, an
attribution statement that claims no more than the figures show, and renderers (terminal,
Markdown, single-file HTML with inline SVG charts, JSON) over the incident dict.

Everything attacker-controlled in an incident (targets, signature values such as
User-Agents, evidence) is untrusted text: every renderer makes it inert for its medium.
"""
