"""Truce's classifier: data, training and inference. Knows nothing about Slack's API."""

from model.labels import CAUSE_IDS, LABELS, NONE

__all__ = ["CAUSE_IDS", "LABELS", "NONE"]
