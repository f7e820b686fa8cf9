"""Signals: tension levels per area and time window, rumour clusters, claim matching, counter
messages. Pure cores (`levels`, `tension`, `clustering`, `rumours`, `counter`, `engine`) take
`now` and hold no I/O; `stage` is the thin shell the pipeline runs inside its transaction.

Time here is *event time*: a post counts at its `created_at`, and the signals clock is the
latest post time seen (never ahead of the wall clock). A replayed week therefore produces the
same levels and rumours as the live week did, whatever speed it is replayed at.
"""
