"""Domain logic: diagnosis, playbook lookup, pulse lifecycle. Slack is reached only through an injected client."""
