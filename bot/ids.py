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

# Experiments: "Try" on a remedy is "try_remedy:<cause id>:<n>" (value "<cause id>:<n>", n = the
# remedy's place in the playbook); it opens the TRY_VIEW modal. Check-in answers are
# "checkin_answer:<choice>" with the value "<check-in id>:<choice>".
TRY_REMEDY_PREFIX = "try_remedy:"
TRY_REMEDY = re.compile(r"^try_remedy:[a-z_]+:\d+$")
TRY_REMEDY_MENU = "try_remedy_menu"  # the same choice as a menu: option values "<cause id>:<n>"
TRY_VIEW = "try_remedy_submit"
TRY_BLOCK_REMEDY = "try_remedy"
TRY_BLOCK_OWNER = "try_owner"
TRY_BLOCK_DATE = "try_checkin_on"
TRY_BLOCK_CHANNEL = "try_channel"
TRY_REMEDY_INPUT = "remedy"
TRY_OWNER_INPUT = "owner"
TRY_DATE_INPUT = "checkin_on"
TRY_CHANNEL_INPUT = "channel"
CHECKIN_ANSWER = "checkin_answer"
CHECKIN_ACTION = re.compile(r"^checkin_answer:(helped|partly|not_yet|stopped)$")
