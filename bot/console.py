"""The offline console: the real Bolt app and listeners, driven from the terminal.

A loopback fake of Slack's Web API catches what Truce would post and prints it readably.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import replace
from typing import TextIO

from slack_bolt import App
from slack_bolt.request import BoltRequest

from bot import fakeslack
from bot.app import create_app, make_client
from bot.deps import Deps
from bot.fakeslack import Call, FakeSlack
from bot.settings import Settings
from bot.views.render import render_message

CHANNEL = "C0CONSOLE1"
CHANNEL_NAME = "sales-marketing"
USER = "U0CONSOLE1"

BANNER = f"""Truce offline console — no Slack credentials found, so nothing leaves this machine.
Type a message as if you @mentioned Truce in #{CHANNEL_NAME}, or a command:
  the leads from last week's webinar were junk again
  /remedy pricing          /remedy            /pulse
  :quit (or Ctrl-D) to leave.  Set SLACK_BOT_TOKEN to connect to Slack instead.
"""

SHOWN = {
    "chat.postMessage": "Truce posted",
    "chat.postEphemeral": "Truce replied (only you can see this)",
    "chat.update": "Truce updated a message",
    "response_url": "Truce replied",
    "views.publish": "Truce updated your App Home",
}


class Console:
    def __init__(self, settings: Settings, deps: Deps, out: TextIO = sys.stdout):
        self.out = out
        self.fake = FakeSlack(
            on_call=self._show, channels=[{"id": CHANNEL, "name": CHANNEL_NAME, "is_member": True}]
        )
        self.fake.start()
        local = replace(
            settings, api_url=self.fake.api_url, bot_token="xoxb-console", signing_secret="console"
        )
        self.app: App = create_app(
            local, deps, client=make_client(local, token="xoxb-console"), process_before_response=True
        )

    def close(self) -> None:
        self.fake.stop()

    # ---- output ------------------------------------------------------------------------------
    def _show(self, call: Call) -> None:
        title = SHOWN.get(call.method)
        if not title:
            return
        params = call.params
        if call.method == "response_url":
            title = (
                "Truce posted" if params.get("response_type") == "in_channel" else SHOWN["chat.postEphemeral"]
            )
        where = " in the thread" if params.get("thread_ts") else ""
        if call.method == "views.publish":
            view = params.get("view") or {}
            body = render_message({"blocks": view.get("blocks", [])})
        else:
            body = render_message(params)
        print(f"\n{title}{where}:\n{body}\n", file=self.out, flush=True)

    # ---- input -------------------------------------------------------------------------------
    def mention(self, text: str) -> None:
        ts = f"{time.time():.6f}"
        body = {
            "type": "event_callback",
            "team_id": fakeslack.TEAM_ID,
            "api_app_id": "A0CONSOLE1",
            "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_mention",
                "user": USER,
                "text": f"<@{fakeslack.BOT_USER_ID}> {text}",
                "ts": ts,
                "channel": CHANNEL,
                "event_ts": ts,
            },
            "authorizations": [
                {"team_id": fakeslack.TEAM_ID, "user_id": fakeslack.BOT_USER_ID, "is_bot": True}
            ],
        }
        self._dispatch(body)

    def command(self, line: str) -> None:
        command, _, text = line.partition(" ")
        body = {
            "token": "console",
            "team_id": fakeslack.TEAM_ID,
            "team_domain": "console",
            "channel_id": CHANNEL,
            "channel_name": CHANNEL_NAME,
            "user_id": USER,
            "user_name": "you",
            "command": command,
            "text": text.strip(),
            "api_app_id": "A0CONSOLE1",
            "response_url": self.fake.response_url(uuid.uuid4().hex[:8]),
            "trigger_id": f"{uuid.uuid4().int % 10**12}.console",
        }
        self._dispatch(body)

    def _dispatch(self, body: dict) -> None:
        response = self.app.dispatch(BoltRequest(body=body, mode="socket_mode"))
        if response.status == 404:
            print("\n  (Truce has no command by that name. Try /remedy or /pulse.)\n", file=self.out)
            return
        if response.body:
            try:
                payload = json.loads(response.body)
            except json.JSONDecodeError:
                payload = {"text": response.body}
            if isinstance(payload, dict) and (payload.get("blocks") or payload.get("text")):
                print(f"\nTruce replied (only you can see this):\n{render_message(payload)}\n", file=self.out)

    def handle(self, line: str) -> bool:
        """One line of input; False when the person wants to leave."""
        line = line.strip()
        if line in (":quit", ":q", "quit", "exit"):
            return False
        if line.startswith("/"):
            self.command(line)
        else:
            self.mention(line)
        return True

    def run(self, stdin: TextIO = sys.stdin) -> int:
        print(BANNER, file=self.out, flush=True)
        interactive = stdin.isatty()
        while True:
            if interactive:
                try:
                    line = input("you> ")
                except (EOFError, KeyboardInterrupt):
                    print(file=self.out)
                    return 0
            else:
                line = stdin.readline()
                if not line:
                    return 0
                print(f"you> {line.rstrip()}", file=self.out)
            if not self.handle(line):
                return 0
