"""Stored results shown: loaded, grouped and compared (groups), ranked with ties (ranking), as
terminal tables and exports (render), the live table of a run (live), PNG plots (plots), a
static site (site/), beside the original project's figures (reference) and `verify`'s
outcomes (verified)."""
