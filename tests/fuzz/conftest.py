"""The fuzz tests probe the web app as the web tests do: reuse their fixtures."""

from tests.web.conftest import (  # noqa: F401
    app,
    client,
    clock,
    passwords,
    runtime,
    seeded,
    users,
)
