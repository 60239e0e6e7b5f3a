"""Whom the server believes about a client's address.

CSMS_NUM_PROXIES (DRF's NUM_PROXIES) is the one setting: 0 means X-Forwarded-For is
never believed. uvicorn, though, rewrites the client address from X-Forwarded-For on
its own by default whenever the peer is 127.0.0.1 (its FORWARDED_ALLOW_IPS), before
Django sees the request: any client on the host could then pick a fresh address, and
a fresh rate-limit budget, per request. So the servers started by this project run
uvicorn with its proxy headers only when CSMS_NUM_PROXIES says there is a proxy.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings


def uvicorn_proxy_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``: proxy headers (X-Forwarded-For and
    X-Forwarded-Proto) are read only behind a proxy."""
    return {"proxy_headers": bool(api_settings.NUM_PROXIES)}
