"""Prometheus /metrics: pipeline counters read at scrape time from the running pipeline."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.pipeline import Pipeline


class PipelineCollector(Collector):
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        s = self.pipeline.stats
        for name, value, doc in (
            ("received", s.received, "Posts handed to intake by collectors and importers"),
            ("stored", s.stored, "New posts committed to the store"),
            ("duplicates", s.duplicates, "Posts already stored (at-least-once delivery)"),
            ("rejected", s.rejected, "Posts refused by ingest (malformed)"),
            ("processed", s.processed, "Posts classified and run through the rules"),
            ("flagged", s.flagged, "Processed posts with a classifier flag or rule hit"),
            ("deleted", s.deleted, "Posts whose text was purged on a platform deletion"),
        ):
            yield CounterMetricFamily(f"monitor_posts_{name}", doc, value=value)
        yield GaugeMetricFamily(
            "monitor_queue_depth",
            "Posts waiting to be processed (backpressure slows intake when full)",
            value=self.pipeline.queue_depth,
        )


def make_registry(pipeline: Pipeline) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(PipelineCollector(pipeline))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
