"""Delivering stored messages to long-polls: how processes hear of a store and wake their
waiting polls (`notifiers`), what each channel is known to hold, so that an idle poll costs no
query (`knowledge`), and the wait of a poll (`waiting`).

The rest of the product needs only the process's notifier, to say what it stored.
"""

from __future__ import annotations

from webclient.delivery.notifiers import notifier

__all__ = ["notifier"]
