"""The README and docs/ point only inside the repository, at files that exist: a clone has
nothing beside it."""

from __future__ import annotations

import re

from tests.liveserver import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)")  # Markdown links and images
UPWARD = re.compile(r"(?<![\w.])((?:\.\./)+[\w./-]+)")  # ../anything, linked or not
DOC = re.compile(r"(?<![\w/.])(docs/[\w.-]+\.(?:md|png))")  # a page or picture of docs/


def test_the_readme_and_docs_point_only_to_files_inside_the_repository() -> None:
    base = ROOT.resolve()
    outside, missing = [], []
    for page in PAGES:
        text = page.read_text()
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            resolved = (page.parent / target).resolve()
            if not resolved.is_relative_to(base):
                outside.append(f"{page.name}: {target}")
            elif not resolved.exists():
                missing.append(f"{page.name}: {target}")
        for target in UPWARD.findall(text):
            if not (page.parent / target).resolve().is_relative_to(base):
                outside.append(f"{page.name}: {target}")
        missing += [f"{page.name}: {t}" for t in DOC.findall(text) if not (ROOT / t).exists()]
    assert outside == []
    assert missing == []
