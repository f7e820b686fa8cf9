"""The OpenAPI document describes exactly the API the app serves, with the guard's roles."""

from __future__ import annotations

import re

from aiohttp import web

from monitor.web.openapi import document
from monitor.web.permissions import ROUTES
from tests.web.conftest import Client


def _api_routes(app: web.Application) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        if route.method not in ("GET", "POST") or route.resource is None:
            continue
        info = route.resource.get_info()
        path = info.get("formatter") or info.get("path") or ""
        if path.startswith("/api/"):
            out.add((re.sub(r"\{(\w+)(?::[^}]*)?\}", r"{\1}", path), route.method.lower()))
    return out


def test_every_api_route_is_documented_and_nothing_else(app: web.Application) -> None:
    doc = document()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    served = _api_routes(app)
    assert served, "the app serves no API?"
    assert documented == served, {
        "undocumented": served - documented,
        "absent": documented - served,
    }


def test_operations_carry_the_permission_tables_roles(app: web.Application) -> None:
    for ops in document()["paths"].values():
        for op in ops.values():
            access = ROUTES[op["operationId"]]
            if access.signed:
                expected = ["signed request"]
            else:
                expected = ["anyone"] if access.public else sorted(access.roles)
            assert op["x-roles"] == expected
            assert ("428" in op["responses"]) == access.audited
            if access.evidence:
                assert "liaison" not in op["x-roles"]


async def test_the_document_is_served_as_openapi_3_1(client: Client) -> None:
    r = await client.get("/api/v1/openapi.json")
    assert r.status == 200
    body = await r.json()
    assert body["openapi"] == "3.1.0" and body["paths"]
