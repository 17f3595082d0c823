"""Truce: the Slack bot. Imports `model`; `model` never imports this package."""
