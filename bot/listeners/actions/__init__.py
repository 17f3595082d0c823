from slack_bolt import App

from bot import ids
from bot.deps import Deps
from bot.listeners.actions import experiments, feedback, playbook, pulse


def register(app: App, deps: Deps) -> None:
    app.action(ids.FEEDBACK_HELPFUL)(feedback.helpful(deps))
    app.action(ids.FEEDBACK_NOT_QUITE)(feedback.not_quite(deps))
    app.view(ids.CORRECTION_VIEW)(feedback.correction_submitted(deps))
    app.action(ids.CAUSE_OPEN)(playbook.open_cause(deps))
    app.action(ids.REMEDY_SHARE)(playbook.share(deps))
    app.action(ids.PULSE_ACTION)(pulse.vote(deps))
    app.action(ids.TRY_REMEDY)(experiments.try_remedy(deps))
    app.action(ids.TRY_REMEDY_MENU)(experiments.try_remedy(deps))
    app.view(ids.TRY_VIEW)(experiments.try_submitted(deps))
    app.action(ids.CHECKIN_ACTION)(experiments.checkin_answer(deps))
