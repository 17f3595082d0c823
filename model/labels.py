"""The label set: a contract shared by the data, the model, the CLI and the bot."""

CAUSE_IDS: tuple[str, ...] = (
    "customer_disconnect",
    "blame_game",
    "role_confusion",
    "misaligned_goals",
    "communication_gap",
    "timeline_mismatch",
    "culture_clash",
    "inconsistent_messaging",
    "budget_competition",
    "strategy_conflict",
    "credit_dispute",
    "lead_quality",
    "pricing_dispute",
)
NONE = "none"
LABELS: tuple[str, ...] = (*CAUSE_IDS, NONE)
# What a message in a conversation does with the fault for a problem: puts it on one side, or on nobody.
POINTS: tuple[str, ...] = ("marketing", NONE, "sales")
