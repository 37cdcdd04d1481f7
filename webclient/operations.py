"""Writes only operators make: purging conversations past the retention.

(Retrying a failed message is a relay transition: `kore.outbox.user_message_retry`.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from webclient.models import Conversation, Message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    conversations: int
    messages: int


def retention() -> timedelta | None:
    """How long conversations are kept (RETENTION_DAYS); None: for ever."""
    days: int = settings.RETENTION_DAYS
    return timedelta(days=days) if days > 0 else None


def conversations_purge(*, older_than: timedelta, dry_run: bool = False) -> Purged:
    """Delete conversations (and their messages) with no activity for `older_than`.

    A conversation with a message still in the outbox is kept: it is not finished.
    """
    cutoff = timezone.now() - older_than
    stale = Conversation.objects.filter(last_activity_at__lt=cutoff).exclude(
        messages__status=Message.Status.ACCEPTED
    )
    messages = Message.objects.filter(conversation__in=stale)
    found = Purged(stale.count(), messages.count())
    if not dry_run:
        stale.delete()  # messages go with their conversation (on_delete=CASCADE)
        log.info(
            "purged %d conversation(s), %d message(s) idle since %s",
            found.conversations,
            found.messages,
            cutoff.isoformat(),
        )
    return found
