"""The ports: small Protocols the core depends on and ``infra`` implements.

* :mod:`domain.ports.event_store` — the system of record (append, read, subscribe).
* :mod:`domain.ports.log` — the partitioned record log (in-process or Kafka).
* :mod:`domain.ports.consistency` — waiting until processors applied a position (read-your-writes).
"""
