"""Observing the registry without deciding anything: structured logs (``logs``), application
events in the log (``events``), request ids and latency (``requests``), Prometheus metrics
(``metrics``, ``figures``), and the set-up of ``attune serve`` (``serving``)."""
