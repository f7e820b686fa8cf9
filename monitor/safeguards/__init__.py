"""Safeguards that run beside the pipeline: the hash-chained audit log (`audit`), audited
configuration changes (`config_audit`), owners, purposes and review dates of rule packs and
gazetteers (`governance`), retention and key destruction (`retention`), the repeated-viewing
guard (`viewguard`), re-checking old posts on their platform before display (`recheck`), and
their start-up (`service`). The pure privacy policies they apply (masking, small-count
suppression, mailbox access) are in `monitor/privacy/`."""
