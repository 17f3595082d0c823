"""Pure Block Kit builders: plain data in, message or view dicts out. No I/O."""
