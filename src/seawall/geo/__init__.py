"""Offline geo and ASN knowledge: country and network of an address, and the ranges an ASN holds.

The default data ships inside PyPI packages (`iptocc` for countries, `plevin[network]` for
networks), so it works without a network; a user's MaxMind or DB-IP `.mmdb` files are read
with `maxminddb` instead when given.
"""
