"""The web UI and JSON API (aiohttp, Jinja2 with autoescaping everywhere)."""
