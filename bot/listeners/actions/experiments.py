"""Try on a remedy (opens the Try modal), saving the modal (the public "are trying" line), and the
anonymous check-in answers.

Saving is the one place that answers Slack only after a post: the modal must stay open with an
error when Truce is not in the chosen channel, so the public line is posted before ack(); it is a
single call, well inside Slack's 3 seconds. Nothing here logs a user id next to an answer.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import ids
from bot.deps import Deps
from bot.services.experiments import local_day
from bot.storage.workspace import Workspace
from bot.views import experiments as views
from bot.views.pulse import when
from bot.views.remedy import unknown_cause_message

MAX_CHECKIN_DAYS = 365


def workspace_of(body: dict, context) -> Workspace:
    """The request's workspace: Bolt's context first, then the payload's team."""
    team = (
        getattr(context, "team_id", None)
        or (body.get("team") or {}).get("id")
        or body.get("team_id")
        or (body.get("user") or {}).get("team_id")
        or ""
    )
    enterprise = getattr(context, "enterprise_id", None) or (body.get("enterprise") or {}).get("id")
    return Workspace(str(team), str(enterprise) if enterprise else None)


def _private(body: dict, channel_id: str) -> bool:
    """Picked where the public line can't go: a DM, a card only the picker sees, or a modal/App Home."""
    container = body.get("container") or {}
    return (
        not channel_id
        or channel_id.startswith("D")
        or bool(container.get("is_ephemeral"))
        or container.get("type") == "view"
    )


def try_remedy(deps: Deps):
    def handle_try(
        ack: Ack,
        body: dict,
        action: dict,
        client: WebClient,
        respond: Respond,
        context,
        logger: logging.Logger,
    ) -> None:
        ack()
        raw = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
        parsed = views.parse_try_value(raw)
        cause = deps.playbook.get(parsed[0]) if parsed else None
        if cause is None or parsed[1] >= len(cause.remedies):
            if body.get("response_url"):
                respond(response_type="ephemeral", replace_original=False, **unknown_cause_message())
            return
        container = body.get("container") or {}
        channel_id = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
        private = _private(body, channel_id)
        message = body.get("message") or {}
        thread_ts = None if private else (message.get("thread_ts") or container.get("thread_ts"))
        try:
            service = deps.experiments(client)
            team = workspace_of(body, context)
            checkin_on = service.default_checkin_on(
                team.team_id, None if private else channel_id, deps.clock()
            )
            view = views.try_modal(
                cause,
                parsed[1],
                checkin_on,
                channel_id="" if private else channel_id,
                thread_ts=thread_ts,
                ask_channel=private,
                suggested_channel=channel_id if private and channel_id[:1] in ("C", "G") else None,
            )
            client.views_open(trigger_id=body["trigger_id"], view=view)
        except Exception:
            logger.exception("could not open the Try modal")
            if body.get("response_url"):
                respond(response_type="ephemeral", replace_original=False, **views.try_failed_message())

    return handle_try


def _value(values: dict, block: str, element: str) -> dict:
    return (values.get(block) or {}).get(element) or {}


def try_submitted(deps: Deps):
    def handle_submit(
        ack: Ack, body: dict, view: dict, client: WebClient, context, logger: logging.Logger
    ) -> None:
        values = (view.get("state") or {}).get("values") or {}
        meta = views.decode_try_metadata(view.get("private_metadata") or "")
        cause = deps.playbook.get(meta["cause_id"])
        picked = views.parse_try_value(
            (_value(values, ids.TRY_BLOCK_REMEDY, ids.TRY_REMEDY_INPUT).get("selected_option") or {}).get(
                "value"
            )
            or ""
        )
        errors: dict[str, str] = {}
        if cause is None or picked is None or picked[0] != cause.id or picked[1] >= len(cause.remedies):
            errors[ids.TRY_BLOCK_REMEDY] = "Pick one of the remedies."
        asked_channel = ids.TRY_BLOCK_CHANNEL in values
        channel_id = meta["channel_id"] or str(
            _value(values, ids.TRY_BLOCK_CHANNEL, ids.TRY_CHANNEL_INPUT).get("selected_conversation") or ""
        )
        if asked_channel and channel_id[:1] not in ("C", "G"):
            errors[ids.TRY_BLOCK_CHANNEL] = "Choose the channel that is trying it."
        elif not channel_id:
            errors[ids.TRY_BLOCK_REMEDY] = "I lost track of the channel; pick Try again."
        team = workspace_of(body, context)
        service = deps.experiments(client)
        now = deps.clock()
        today = local_day(
            now, service.timezone(team.team_id, channel_id) if channel_id else deps.settings.pulse_timezone
        )
        raw_date = str(_value(values, ids.TRY_BLOCK_DATE, ids.TRY_DATE_INPUT).get("selected_date") or "")
        try:
            checkin_on = date.fromisoformat(raw_date)
        except ValueError:
            checkin_on = None
        if checkin_on is None:
            errors[ids.TRY_BLOCK_DATE] = "Pick the day to check in."
        elif checkin_on <= today:
            errors[ids.TRY_BLOCK_DATE] = "Pick a day after today."
        elif checkin_on > today + timedelta(days=MAX_CHECKIN_DAYS):
            errors[ids.TRY_BLOCK_DATE] = "Pick a day within a year."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        owner = _value(values, ids.TRY_BLOCK_OWNER, ids.TRY_OWNER_INPUT).get("selected_user") or None
        where = ids.TRY_BLOCK_CHANNEL if asked_channel else ids.TRY_BLOCK_REMEDY
        try:
            started = service.start(
                team,
                channel_id,
                meta["thread_ts"] if not asked_channel else None,
                cause.id,
                cause.remedies[picked[1]].title,
                owner,
                checkin_on,
                now,
            )
        except Exception:
            logger.exception("could not start an experiment")
            ack(response_action="errors", errors={where: "Sorry, I couldn't save that. Please try again."})
            return
        if started.status == "not_in_channel":
            ack(
                response_action="errors",
                errors={
                    where: "I'm not in that channel: invite me with /invite @Truce there, then save again."
                },
            )
        elif started.status != "ok":
            ack(
                response_action="errors",
                errors={where: "Slack didn't take the message just now. Please try again."},
            )
        else:
            ack()

    return handle_submit


def checkin_answer(deps: Deps):
    def handle_answer(
        ack: Ack, body: dict, action: dict, client: WebClient, context, logger: logging.Logger
    ) -> None:
        ack()
        parsed = views.parse_checkin_value(action.get("value") or "")
        user_id = (body.get("user") or {}).get("id") or ""
        container = body.get("container") or {}
        channel_id = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
        message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts") or ""
        if parsed is None or not user_id or not channel_id:
            logger.warning("experiments: a check-in click with an unexpected value was ignored")
            return
        checkin_id, choice = parsed
        team = workspace_of(body, context)
        service = deps.experiments(client)
        try:
            result = service.vote(
                team, checkin_id, user_id, choice, channel_id=channel_id, message_ts=message_ts
            )
        except Exception as exc:  # no traceback: it could carry the answer being written
            logger.error("experiments: could not record a check-in answer (%s)", type(exc).__name__)
            _tell(client, channel_id, user_id, views.try_failed_message(), logger)
            return
        if result.status == "ok":
            tz = service.timezone(team.team_id, channel_id)
            reply = views.checkin_confirmation(choice, when(result.closes_at, tz))
        elif result.status == "closed":
            reply = views.checkin_closed_reply()
        else:
            reply = views.not_this_checkin_reply()
        _tell(client, channel_id, user_id, reply, logger)

    return handle_answer


def _tell(client: WebClient, channel_id: str, user_id: str, reply: dict, logger: logging.Logger) -> None:
    try:
        client.chat_postEphemeral(channel=channel_id, user=user_id, **reply)
    except (SlackApiError, SlackClientError, OSError) as exc:
        logger.warning("experiments: could not confirm an answer in %s (%s)", channel_id, type(exc).__name__)
