"""The running service: the composition root (`app`), the typed runtime the web reads
(`state`), the intake and processing pipeline with its failure handling (`pipeline`,
`faults`), the work queues (`queues`), scheduler leadership (`leader`), liveness and
readiness (`health`) and the Prometheus registry (`metrics`)."""
