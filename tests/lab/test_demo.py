"""`seawall demo` end to end: the README's first command must keep working."""

from __future__ import annotations

import subprocess
import sys

from harness import free_port


def test_demo_serves_visitors_and_apps_throttles_the_scraper_blocks_the_listed() -> None:
    port = free_port()
    out = subprocess.run(
        [sys.executable, "-m", "seawall.cli", "demo", "--duration", "3", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "throttle/anonymous=" in text
    assert "block/anonymous=" in text
    assert "allow/api_app=" in text
