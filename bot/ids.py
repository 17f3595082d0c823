"""Every action_id, callback_id and block_id Truce uses. A family of buttons shares a prefix."""

import re

# Diagnosis feedback
FEEDBACK_HELPFUL = "feedback_helpful"
FEEDBACK_NOT_QUITE = "feedback_not_quite"
CORRECTION_SELECT = "correction_select"
CORRECTION_VIEW = "correction_submit"  # the "What was it really?" modal
CORRECTION_BLOCK = "correction"

# Playbook cards: "cause_open:<cause id>"
CAUSE_OPEN_PREFIX = "cause_open:"
CAUSE_OPEN = re.compile(r"^cause_open:[a-z_]+$")
REMEDY_SHARE = "remedy_share"
PLAYBOOK_VIEW = "playbook_cause"  # the modal a cause opens in from App Home

# Shortcuts and commands
DIAGNOSE_SHORTCUT = "diagnose_friction"
REMEDY_COMMAND = "/remedy"
PULSE_COMMAND = "/pulse"

# Pulse poll answers. Buttons are "pulse_side:<side>" and "pulse_score:<1..5>" (unique per message);
# the cause is one select, "pulse_cause". Every value is "<poll id>:<choice>".
PULSE_SIDE = "pulse_side"
PULSE_SCORE = "pulse_score"
PULSE_CAUSE = "pulse_cause"
PULSE_ACTION = re.compile(r"^pulse_(side|score|cause)(:[a-z0-9_]+)?$")
PULSE_BLOCK_SIDE = "pulse_q_side"
PULSE_BLOCK_SCORE = "pulse_q_score"
PULSE_BLOCK_CAUSE = "pulse_q_cause"
