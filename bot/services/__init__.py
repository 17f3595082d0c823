"""Domain logic: diagnosis, playbook lookup, pulse lifecycle. No Slack client calls here."""
