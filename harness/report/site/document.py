"""The frame every page of the site shares: one HTML5 document with the site's own stylesheet
and script, referenced by relative paths so that the folder works from `file://` and from any
static host. Nothing is fetched from anywhere else: no CDN, no web font."""

from __future__ import annotations

from html import escape

ASSETS = "assets"
STYLESHEETS = ("site.css", "code.css")  # code.css: Pygments' classes, written by `write_site`
SCRIPTS = ("site.js",)


def document(title: str, body: str, *, scripts: tuple[str, ...] = SCRIPTS) -> str:
    """A whole page: `body` is trusted HTML built with `html.escape` around every value."""
    links = "\n".join(f'<link rel="stylesheet" href="{ASSETS}/{name}">' for name in STYLESHEETS)
    tags = "\n".join(f'<script src="{ASSETS}/{name}" defer></script>' for name in scripts)
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n{links}\n{tags}\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")
