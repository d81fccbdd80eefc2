"""MkDocs hooks for the docs build (mkdocs.yml): the changelog page shows the
repository's CHANGELOG.md, so the changelog is written once."""
from __future__ import annotations

from pathlib import Path
from typing import Any

_INCLUDE = "<!-- include: CHANGELOG.md -->"
_ROOT = Path(__file__).resolve().parents[1]


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if _INCLUDE in markdown:
        text = (_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
        # the site has its own page title
        body = text.split("\n", 1)[1] if text.startswith("# ") else text
        return markdown.replace(_INCLUDE, body)
    return markdown
