"""`monitor sources` and `monitor sources check` as a council officer would run them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from monitor.cli import cli
from monitor.store.tables import metadata
from monitor.store.tables import sources as sources_table
from tests.collectors.conftest import FIXTURES

RSS = (FIXTURES / "rss" / "council_news.rss").read_bytes()


class _Feeds(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/news/rss":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            self.wfile.write(RSS)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feeds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def settings_file(tmp_path: Path, sources: str) -> Path:
    path = tmp_path / "monitor.toml"
    db = tmp_path / "monitor.db"
    path.write_text(f'database_url = "sqlite+aiosqlite:///{db}"\n{sources}', encoding="utf-8")
    return path


def run(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), "sources", *args], env={})
    return result.exit_code, result.output


def test_check_tries_each_source_and_says_what_is_missing(
    tmp_path: Path, feed_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDDIT_ID", raising=False)
    path = settings_file(
        tmp_path,
        f"""
[[sources]]
kind = "rss"
name = "council-news"
feeds = ["{feed_server}/news/rss"]

[[sources]]
kind = "rss"
name = "moved-feed"
feeds = ["{feed_server}/old/rss"]

[[sources]]
kind = "reddit"
name = "reddit-exampletown"
subreddits = ["exampletown"]
client_id_env = "REDDIT_ID"
client_secret_env = "REDDIT_SECRET"
user_agent = "python:uk.gov.example.monitor:v0.1 (by /u/ExampleCouncilData)"
""",
    )
    code, out = run(path, "check", "--timeout", "10")
    assert code == 1
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isalpha()}
    assert "ok" in rows["council-news"].split()
    assert "Example Council News: 3 items, 3 kept" in rows["council-news"]
    assert "FAILED" in rows["moved-feed"] and "HTTP 404" in rows["moved-feed"]
    assert "NEEDS ACCESS" in rows["reddit-exampletown"]
    assert "$REDDIT_ID" in rows["reddit-exampletown"]
    assert not (tmp_path / "monitor.db").exists()  # checking stores nothing


def test_check_of_named_sources_only_and_unknown_names(tmp_path: Path, feed_server: str) -> None:
    path = settings_file(
        tmp_path,
        f'[[sources]]\nkind = "rss"\nname = "news"\nfeeds = ["{feed_server}/news/rss"]\n',
    )
    code, out = run(path, "check", "news")
    assert code == 0, out
    code, out = run(path, "check", "nope")
    assert code == 1 and "no source named nope" in out


def test_invalid_sources_are_listed_with_file_and_key(tmp_path: Path) -> None:
    path = settings_file(
        tmp_path,
        '[[sources]]\nkind = "rss"\nname = "news"\nfeed = ["https://a.example/rss"]\n',
    )
    code, out = run(path, "check")
    assert code == 1
    assert f"{path}: [[sources]] #1 ('news'): feed: not a setting of a rss source" in out
    assert "did you mean 'feeds'?" in out


def test_listing_shows_each_source_with_its_stored_state(tmp_path: Path) -> None:
    path = settings_file(
        tmp_path,
        '[[sources]]\nkind = "rss"\nname = "news"\nfeeds = ["https://a.example/rss"]\n'
        '[[sources]]\nkind = "jetstream"\nname = "bluesky"\nplaces = ["Exampletown"]\n',
    )
    code, out = run(path)
    assert code == 0, out
    assert "no store at" in out and "never" in out
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    metadata.create_all(engine, tables=[sources_table])
    when = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sources_table.insert().values(
                name="news",
                kind="rss",
                cursor="{}",
                updated_at=when,
                last_success_at=when,
                error_count=2,
            )
        )
    engine.dispose()
    code, out = run(path)
    news = next(line for line in out.splitlines() if line.startswith("news"))
    assert "2026-08-20T10:00:00" in news and " 2 " in news and "1 feed(s)" in news
    bluesky = next(line for line in out.splitlines() if line.startswith("bluesky"))
    assert "never" in bluesky and "filter: 1 places" in bluesky
    assert "store not readable" not in out


def test_no_sources_configured(tmp_path: Path) -> None:
    code, out = run(settings_file(tmp_path, ""))
    assert code == 0 and "No sources configured" in out
