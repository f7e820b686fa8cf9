"""Incidents: the stories people review (signals → incidents → alerts).

`grouping`, `describe`, `gathering`, `responses` and `lifecycle` are the pure core (time
injected); `store` is the I/O shell; `stage` runs it in the pipeline's transaction.
"""
