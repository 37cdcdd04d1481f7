"""Formerly seeded the demo bots; now a no-op kept so that existing databases stay consistent.

A production `migrate` creates no bot. The demo bots come from `manage.py seed_demo`, a
command of the embedded emulator (webclient/emulator/), which `make run` and the DEBUG
startup run.
"""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("webclient", "0001_initial"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
