"""Which log topic an event goes to: one topic per stream category, plus the all-events topic."""

from __future__ import annotations

from domain.events import RecordedEvent
from domain.ports.log import TOPIC_ALL

CATEGORY_TOPICS = {
    "sensordata": "flexledger.readings",
    "udi": "flexledger.udi-events",
    "command": "flexledger.commands",
    "schedule": "flexledger.schedules",
    "forecast": "flexledger.forecasts",
    "job": "flexledger.jobs",
}
TOPIC_REGISTRY = "flexledger.registry"
TOPIC_READINGS = CATEGORY_TOPICS["sensordata"]
TOPIC_JOBS = CATEGORY_TOPICS["job"]


def topic_of(event: RecordedEvent) -> str:
    """The category topic of an event (registry events: accounts, users, assets, sensors)."""
    return CATEGORY_TOPICS.get(event.category, TOPIC_REGISTRY)


def topic_of_stream(stream_id: str) -> str:
    """The category topic of a stream's events (the category is the part before the first ``-``)."""
    return CATEGORY_TOPICS.get(stream_id.split("-", 1)[0], TOPIC_REGISTRY)


def all_topics() -> list[str]:
    return [TOPIC_ALL, TOPIC_REGISTRY, *CATEGORY_TOPICS.values()]


__all__ = ["TOPIC_ALL", "TOPIC_JOBS", "TOPIC_READINGS", "TOPIC_REGISTRY", "topic_of", "topic_of_stream", "all_topics"]
