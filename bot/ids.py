"""Every action_id, callback_id and block_id Truce uses. A family of buttons shares a prefix."""

import re

# Diagnosis feedback
FEEDBACK_HELPFUL = "feedback_helpful"
FEEDBACK_NOT_QUITE = "feedback_not_quite"
CORRECTION_SELECT = "correction_select"

# Playbook cards: "cause_open:<cause id>"
CAUSE_OPEN_PREFIX = "cause_open:"
CAUSE_OPEN = re.compile(r"^cause_open:[a-z_]+$")
REMEDY_SHARE = "remedy_share"

# Shortcuts and commands
DIAGNOSE_SHORTCUT = "diagnose_friction"
REMEDY_COMMAND = "/remedy"
PULSE_COMMAND = "/pulse"

# Pulse poll answers: "pulse_side", "pulse_score", "pulse_cause"
PULSE_SIDE = "pulse_side"
PULSE_SCORE = "pulse_score"
PULSE_CAUSE = "pulse_cause"
PULSE_ACTION = re.compile(r"^pulse_(side|score|cause)$")
