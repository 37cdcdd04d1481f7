"""`manage.py check_upstream <slug>`: the admin's "Check connection", from a shell.

Exits 1 when the check fails, so a deploy script can stop on it. Its output is its own
lines: the HTTP client's per-request INFO line (the same request, said again) is left out.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webclient.kore.check import connection_check
from webclient.models import Bot


class Command(BaseCommand):
    help = "Make one harmless authenticated call to a bot's Kore platform and report it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The bot's slug.")

    def handle(self, *args: Any, **options: Any) -> None:
        bot = Bot.objects.filter(slug=options["slug"]).first()
        if bot is None:
            raise CommandError(f"There is no bot {options['slug']!r}.")
        client_log = logging.getLogger("httpx")
        level = client_log.level
        client_log.setLevel(max(logging.WARNING, level))
        try:
            result = connection_check(bot)
        finally:
            client_log.setLevel(level)
        status = f"HTTP {result.status}" if result.status else "no HTTP status"
        line = f"{bot.slug}: {result.method} {result.url}: {status}, {result.elapsed_ms} ms"
        self.stdout.write(line)
        if not result.ok:
            raise CommandError(result.summary)
        self.stdout.write(self.style.SUCCESS(result.summary))
