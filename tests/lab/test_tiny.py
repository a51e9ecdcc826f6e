"""The tiny demo origin: pages, API and a bounded worker pool."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from seawall.lab.tiny import start_origin


def test_tiny_origin_serves_pages_and_counts() -> None:
    async def main() -> None:
        runner, port = await start_origin()
        try:
            async with aiohttp.ClientSession() as s:
                async with s.get(f"http://127.0.0.1:{port}/") as r:
                    assert r.status == 200 and "public" in r.headers["Cache-Control"]
                async with s.get(f"http://127.0.0.1:{port}/users/cyxymu") as r:
                    assert "@cyxymu" in await r.text()
                async with s.get(f"http://127.0.0.1:{port}/users/nobody") as r:
                    assert r.status == 404
                async with s.get(
                    f"http://127.0.0.1:{port}/api/timeline", headers={"X-Real-IP": "1.2.3.4"}
                ) as r:
                    assert (await r.json())["seen_as"] == "1.2.3.4"
                async with s.get(f"http://127.0.0.1:{port}/_origin/stats") as r:
                    assert json.loads(await r.text())["requests"] == 4
        finally:
            await runner.cleanup()

    asyncio.run(main())
