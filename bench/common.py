"""What the load benchmarks share: the sample messages they send and the process tree they measure."""

from __future__ import annotations

import os
from pathlib import Path

# Mention texts, sent round-robin: some name a cause, one is praise.
TEXTS = [
    "the leads from the webinar are junk again :facepalm:",
    "who owns the follow-up email after the event? sales thinks it's us, we think it's them",
    "marketing changed the pricing page and now my renewals want the promo price",
    "great job on the launch today everyone :tada:",
    "budget got cut for my team so demand gen can run billboards?",
    "the deck says enterprise-grade, the website says built for startups",
]


def parents() -> dict[int, int]:
    """Every running process's parent, from /proc (a process that ends while being read is left out)."""
    parent_of: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent_of[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parent_of
