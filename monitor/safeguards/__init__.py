"""Safeguards that run beside the pipeline: the hash-chained audit log (`audit`), audited
configuration changes (`config_audit`), owners, purposes and review dates of rule packs and
gazetteers (`governance`), retention and key destruction (`retention`), and their start-up
(`service`). The per-view protections (masking, small-count suppression, erasure, view
justification) are in `monitor/privacy/`."""
