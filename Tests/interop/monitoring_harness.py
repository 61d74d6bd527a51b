"""Helpers of the monitoring port's tests: one HTTP GET against a daemon's `metrics.listen`."""

from __future__ import annotations

import time
import urllib.error
import urllib.request


def scrape(port: int, path: str, token: str | None = None, timeout: float = 10) -> tuple[int, dict[str, str], str]:
    """GET http://127.0.0.1:`port``path` (with the monitoring token as a bearer, if given):
    status, headers (lower-case names), body; an HTTP error status is returned, not raised.
    The port binds when the daemon's service group runs, just after the first `counts`: a
    refused connection is retried until `timeout`."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
