"""Measuring the signals, not running them: generated weeks with known truth (`simulate`), replay
and scoring (`evaluate`), and the event-level evaluation behind `monitor eval events` (`events`,
`event_streams`), which runs whole weeks through the runtime and groups them with incidents.
Tests and benchmarks use it too; no part of the service imports it."""
