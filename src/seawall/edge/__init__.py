"""The asyncio shell around the core: connections, upstreams, admin."""
