"""Create the hub's topics before the worker subscribes to them.

A consumer that subscribes to a topic that does not exist yet ignores it until its next metadata
refresh (minutes), so on a fresh broker the first events would sit unread. Creating the topics
first, synchronously, removes that race. Fineract's own topic is created only if missing, with
Fineract's default partition count; in deployments where the hub may not create topics, the
refusal is logged and the worker carries on with what exists.
"""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from fineract_hub.config import Settings

log = logging.getLogger(__name__)


def wanted_topics(settings: Settings) -> dict[str, int]:
    return {
        settings.fineract_topic: settings.fineract_topic_partitions,
        settings.events_topic: settings.topic_partitions,
        settings.dead_letter_topic: 1,
        settings.operational_topic: 1,
    }


async def ensure_topics(settings: Settings) -> list[str]:
    """Returns the topics this call created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, replication_factor=1)
                   for name, partitions in wanted_topics(settings).items()
                   if name not in existing]
        if not missing:
            return []
        try:
            await admin.create_topics(missing)
        except TopicAlreadyExistsError:
            pass  # another worker won the race
        except KafkaError as exc:
            log.warning("could not create topics %s (%s); relying on what exists",
                        [t.name for t in missing], exc)
            return []
        return [t.name for t in missing]
    finally:
        await admin.close()
