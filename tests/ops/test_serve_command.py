"""The run command's own checks, before any server starts."""

from __future__ import annotations

from typing import Any

import pytest

from kore_chat.serve import main


def test_several_workers_on_the_local_notifier_are_refused(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.NOTIFY_BACKEND = "local"
    with pytest.raises(SystemExit) as exited:
        main(["--workers", "2"])
    assert exited.value.code == 2
    assert "several workers need a shared notifier" in capsys.readouterr().err
