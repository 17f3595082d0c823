"""Presenters: turn the data services return into Slack message arguments, using bot.views."""
