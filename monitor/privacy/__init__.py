"""Privacy policies, pure and below the store: text minimisation (`minimise`), the public-account
allowlist (`allowlist`), small-count suppression (`suppress`), who may read a mailbox message
(`mailbox_access`) and post references (`postref`). The safeguards that need the store or the
network (erasing copies: `monitor/store/erase.py`; the repeated-viewing guard and re-checks
before display: `monitor/safeguards/`) use these."""
