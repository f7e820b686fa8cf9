"""Alerts: candidates from labels, routing, grouping, silences, outbox and notifiers."""
