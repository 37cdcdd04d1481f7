"""`manage.py purge_conversations [--older-than 90d] [--dry-run] [--unsent-files]`: apply the
retention.

Without --older-than it uses RETENTION_DAYS, and refuses to run when that is 0 (the default:
conversations are kept). Run it daily (cron, a systemd timer); docs/operations.md.
`--unsent-files` only sweeps the uploads never sent within ATTACHMENT_UNSENT_GRACE (the relay
does so on its own, with its chores).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webclient.attachments import attachments_unsent_sweep
from webclient.operations import conversations_purge, retention

DURATION = re.compile(r"(\d+)([dh]?)")


def duration(text: str) -> timedelta:
    """`90d`, `36h`, or a number of days."""
    match = DURATION.fullmatch(text.strip())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90d or 36h)")
    amount = int(match[1])
    return timedelta(hours=amount) if match[2] == "h" else timedelta(days=amount)


class Command(BaseCommand):
    help = "Delete conversations with no activity for longer than the retention."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            help="Idle for longer than this (90d, 36h; a bare number is days). "
            "Default: RETENTION_DAYS.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go, delete nothing."
        )
        parser.add_argument(
            "--unsent-files",
            action="store_true",
            help="Only delete the uploads never sent within ATTACHMENT_UNSENT_GRACE.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["unsent_files"]:
            swept = 0
            while batch := attachments_unsent_sweep():
                swept += batch
            self.stdout.write(f"Deleted {swept} upload(s) never sent.")
            return
        if options["older_than"]:
            try:
                older_than = duration(options["older_than"])
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        else:
            kept = retention()
            if kept is None:
                raise CommandError(
                    "Retention is off (RETENTION_DAYS=0): pass --older-than or set RETENTION_DAYS."
                )
            older_than = kept
        purged = conversations_purge(older_than=older_than, dry_run=options["dry_run"])
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(
            f"{verb} {purged.conversations} conversation(s) and {purged.messages} message(s) "
            f"idle for more than {older_than}."
        )
