"""Privacy safeguards: text minimisation, public-account allowlist, small-count suppression and
the repeated-viewing guard."""
