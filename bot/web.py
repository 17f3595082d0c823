"""The production HTTP face of Truce: a WSGI app served by waitress (`python -m bot serve`).

POST /slack/events          events, slash commands and interactivity (one Request URL for all)
GET  /healthz               200 once the app, the model and the database are ready
GET  /slack/install         the "Add to Slack" page (multi-workspace mode only)
GET  /slack/oauth_redirect  where Slack sends the browser back to finish an install (same)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.app import CLAIMED_DELIVERY, delivery_key
from bot.storage.repository import Repository

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


_REASONS = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


def _reply(
    start_response, status: int, body: str | bytes, headers: dict[str, str] | None = None
) -> list[bytes]:
    reasons = {
        200: "OK",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        405: "Method Not Allowed",
        411: "Length Required",
        413: "Payload Too Large",
        415: "Unsupported Media Type",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }
    data = body.encode("utf-8") if isinstance(body, str) else body
    all_headers = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
    all_headers["Content-Length"] = str(len(data))
    start_response(f"{status} {reasons.get(status, 'Status')}", list(all_headers.items()))
    return [data]


def _headers(environ: dict) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


class SlackWSGI:
    """Bolt behind a strict front door: size limits, replay protection, 4xx for anything malformed."""

    def __init__(self, app: App, repo: Repository, signing_secret: str, max_body_bytes: int = 1_000_000):
        self.app = app
        self.repo = repo
        self.verifier = SignatureVerifier(signing_secret)
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return _reply(start_response, 200, "ok")
        flow = self.app.oauth_flow
        if flow is not None and path in (flow.install_path, flow.redirect_uri_path):
            if method not in ("GET", "HEAD"):
                return _reply(start_response, 405, "use GET", {"Allow": "GET"})
            try:
                return self._oauth(environ, start_response, flow, path)
            except Exception:
                logger.exception("could not handle a request to %s", path)
                return _reply(start_response, 500, "internal error")
        if path != EVENTS_PATH:
            return _reply(start_response, 404, "not found")
        if method != "POST":
            return _reply(start_response, 405, "use POST", {"Allow": "POST"})
        try:
            return self._events(environ, start_response)
        except Exception:
            logger.exception("could not handle a request to %s", EVENTS_PATH)
            return _reply(start_response, 500, "internal error")

    def _events(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _reply(start_response, 400, "bad Content-Length")
        if length <= 0:
            return _reply(start_response, 400, "empty body")
        if length > self.max_body_bytes:
            return _reply(start_response, 413, "body too large")
        raw = environ["wsgi.input"].read(length)
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _reply(start_response, 400, "body is not UTF-8")
        headers = _headers(environ)
        signature = headers.get("x-slack-signature", "")
        timestamp = headers.get("x-slack-request-timestamp", "")
        if not (signature.isascii() and timestamp.isascii()):
            # '١٢٣' and '²' pass isdigit() but not int(); compare_digest raises on non-ASCII text.
            logger.warning("request refused: non-ASCII signature headers")
            return _reply(start_response, 401, "invalid signature")
        if not (signature and timestamp.isdigit() and self.verifier.is_valid(body, timestamp, signature)):
            return _reply(start_response, 401, "invalid signature")
        try:
            parsed = _parsed(body, headers.get("content-type", ""))
        except RecursionError:
            logger.warning("request refused: body nested too deeply")
            parsed = None
        # A valid signature seen before is a replay: Slack signs every delivery (retries too) afresh.
        # A delivery (event_id, trigger, action) seen before is Slack's retry: acknowledged, not handled
        # again. Both are claimed in the database in one short transaction, before Bolt sees the request.
        delivery = delivery_key(parsed) if parsed is not None else None
        seen = self._claim(signature + ":" + headers.get("x-slack-retry-num", "0"), delivery)
        if seen == "replay":
            logger.warning("replayed request rejected")
            return _reply(start_response, 401, "replayed request")
        if parsed is None:
            return _reply(start_response, 400, "malformed body")
        if seen == "retry":
            logger.info("duplicate delivery ignored (%s)", delivery.split(":", 1)[0])
            return _reply(start_response, 200, "")
        # Bolt's once-only middleware (bot/app.py) sees the claim made here and does not make it again.
        context = {CLAIMED_DELIVERY: delivery} if seen == "new" and delivery is not None else None
        query = environ.get("QUERY_STRING", "")
        form = _form_without_payload(body, headers.get("content-type", ""))
        if form is not None:
            # bolt-python reads any form body containing the substring "payload" as an interaction and,
            # finding no payload field, dispatches nothing: `/remedy the payload of last week's campaign`
            # (or a channel called #payload-team) would go unanswered. Hand Bolt the form as parsed here.
            # Bolt takes a parsed body only with mode="socket_mode", which skips nothing but its own
            # signature check, and that check was done above, on the raw body.
            request = BoltRequest(
                body=form, query=query, headers=headers, context=context, mode="socket_mode"
            )
        elif _is_json(body, headers.get("content-type", "")):
            # Events: the JSON was parsed and the signature checked above; Bolt need not do either again.
            request = BoltRequest(
                body=parsed, query=query, headers=headers, context=context, mode="socket_mode"
            )
        else:
            request = BoltRequest(body=body, query=query, headers=headers, context=context)
        response = self.app.dispatch(request)
        out_headers = {k: v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
        out_headers.pop("content-length", None)
        out_headers.setdefault("content-type", "text/plain; charset=utf-8")
        status = response.status
        if status == 404 and body.startswith("{"):
            # An event type Truce does not listen to: acknowledge it, or Slack keeps re-sending it.
            return _reply(start_response, 200, "")
        if status >= 500:  # Bolt's own failures must not make Slack retry into the same failure
            logger.error("listener dispatch answered %s", status)
            return _reply(start_response, 200, "")
        return _reply(start_response, status, response.body or "", out_headers)

    def _oauth(self, environ: dict, start_response: Callable, flow, path: str) -> Iterable[bytes]:
        """Bolt's OAuth flow: the install page (with its state cookie), or the redirect back."""
        request = BoltRequest(body="", query=environ.get("QUERY_STRING", ""), headers=_headers(environ))
        if path == flow.install_path:
            response = flow.handle_installation(request)
        else:
            response = flow.handle_callback(request)
        data = (response.body or "").encode("utf-8")
        headers = [
            (name.title(), value)
            for name, values in response.headers.items()
            if name.lower() != "content-length"
            for value in (values if isinstance(values, list) else [values])
        ]
        headers.append(("Content-Length", str(len(data))))
        start_response(f"{response.status} {_REASONS.get(response.status, 'Status')}", headers)
        return [data]

    def _claim(self, signature: str, delivery: str | None) -> str:
        """What the database says: "replay" (this signature was used before), "retry" (a new delivery
        of an event, trigger or action already taken), "new", or "unknown" when it could not say."""
        keys = [f"sig:{signature[-72:]}"] + ([delivery] if delivery is not None else [])
        try:
            claimed = self.repo.claim_each(keys)
        except Exception:
            logger.exception("could not record a request; accepting the signed request")
            return "unknown"  # Bolt's once-only middleware tries the delivery's claim again
        if not claimed[0]:
            return "replay"
        return "new" if all(claimed) else "retry"


def _is_json(body: str, content_type: str) -> bool:
    return body.startswith("{") or "json" in content_type


def _parsed(body: str, content_type: str) -> dict | None:
    """What Bolt will read (the JSON body, an interaction's payload or a form), or None for what Bolt
    would raise on deep inside: answer 400 instead. A body nested absurdly deep raises RecursionError."""
    try:
        if _is_json(body, content_type):
            found = json.loads(body)
            return found if isinstance(found, dict) else None
        form = parse_qs(body, strict_parsing=True)
        if "payload" in form:
            found = json.loads(form["payload"][0])
            return found if isinstance(found, dict) else None
        if "command" in form or "ssl_check" in form:
            return {key: values[0] for key, values in form.items()}
        return None
    except (ValueError, json.JSONDecodeError):
        return None


def _form_without_payload(body: str, content_type: str) -> dict[str, str] | None:
    """The fields of a form body (already checked by `_parses`) that has the word "payload" somewhere
    but no `payload` field, read the way bolt-python reads forms; None for every other body."""
    if "payload" not in body or _is_json(body, content_type):
        return None
    form = parse_qs(body, keep_blank_values=True)
    if "payload" in form:
        return None
    return {key: values[-1] for key, values in form.items()}
