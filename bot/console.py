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
from urllib.parse import urlencode

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

BANNER = f"""Truce offline console — nothing leaves this machine, and it keeps its own database.
Type a message as if you @mentioned Truce in #{CHANNEL_NAME}, or a command:
  the leads from last week's webinar were junk again      (a mention of Truce)
  /remedy pricing          /remedy            /pulse
  :say <text>     a colleague's message in the channel (then try: thoughts?)
  :thread         start a thread: each line is a colleague's message, @Truce <text> mentions Truce there,
                  :end leaves the thread
  :dm <text>      a private message to Truce
  :click N        press button N of Truce's last message (Helpful, Not quite, poll answers)
  :quit (or Ctrl-D) to leave.  Set SLACK_BOT_TOKEN to connect to Slack instead.
"""
COLLEAGUES = ("U0SALES001", "U0MKTG0002", "U0SALES003", "U0MKTG0004")
DM_CHANNEL = "D0CONSOLE1"
KNOWN_COMMANDS = ("/remedy", "/pulse")

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
        self.thread_ts: str | None = None  # set while the person is writing in a thread
        self._said = 0
        self.buttons: list[tuple[dict, dict, str]] = []  # (element, message, channel) of Truce's last post
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
        print(f"\n{title}{where}:\n{body}", file=self.out, flush=True)
        self._offer_buttons(call)
        print(file=self.out, flush=True)

    def _offer_buttons(self, call: Call) -> None:
        """Number the buttons of what Truce just posted, so `:click N` can press them."""
        params = call.params
        if call.method not in ("chat.postMessage", "chat.postEphemeral", "response_url"):
            return
        message = {
            "ts": params.get("ts") or self.fake.history.get(CHANNEL, [{}])[-1].get("ts", ""),
            "blocks": params.get("blocks") or [],
            "text": params.get("text", ""),
        }
        if call.method == "chat.postMessage":
            posted = self.fake.history.get(str(params.get("channel")), [])
            thread = self.fake.threads.get((str(params.get("channel")), str(params.get("thread_ts"))), [])
            latest = (thread or posted or [{}])[-1]
            message["ts"] = latest.get("ts", "")
        found = []
        for block in message["blocks"]:
            for element in block.get("elements") or []:
                if element.get("type") == "button":
                    found.append(
                        (
                            element,
                            {**message, "block_id": block.get("block_id")},
                            str(params.get("channel") or CHANNEL),
                        )
                    )
        if found:
            self.buttons = found
            labels = "  ".join(
                f"[{i}] {el.get('text', {}).get('text', '')}" for i, (el, _, _) in enumerate(found, 1)
            )
            print(f"  buttons: {labels}   (:click N)", file=self.out, flush=True)

    # ---- input -------------------------------------------------------------------------------
    def _event_body(self, event: dict) -> dict:
        return {
            "type": "event_callback",
            "team_id": fakeslack.TEAM_ID,
            "api_app_id": "A0CONSOLE1",
            "event_id": f"Ev{uuid.uuid4().hex[:12].upper()}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [
                {"team_id": fakeslack.TEAM_ID, "user_id": fakeslack.BOT_USER_ID, "is_bot": True}
            ],
        }

    def say(self, text: str) -> None:
        """A colleague's message: in the open thread, or in the channel."""
        user = COLLEAGUES[self._said % len(COLLEAGUES)]
        self._said += 1
        message = {"user": user, "text": text, "ts": f"{time.time():.6f}"}
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        posted = self.fake.add_message(CHANNEL, message)
        return posted

    def start_thread(self) -> None:
        self.thread_ts = f"{time.time():.6f}"
        self._thread_started = False
        print("  (a new thread: type colleagues' messages, then @Truce <text>; :end to leave)", file=self.out)

    def thread_line(self, line: str) -> None:
        if not self._thread_started:  # the first line is the thread's parent message
            user = COLLEAGUES[self._said % len(COLLEAGUES)]
            self._said += 1
            self.fake.add_message(CHANNEL, {"user": user, "text": line, "ts": self.thread_ts})
            self._thread_started = True
            return
        self.say(line)

    def dm(self, text: str) -> None:
        ts = f"{time.time():.6f}"
        self.fake.add_message(DM_CHANNEL, {"user": USER, "text": text, "ts": ts})
        event = {
            "type": "message",
            "channel": DM_CHANNEL,
            "channel_type": "im",
            "user": USER,
            "text": text,
            "ts": ts,
            "event_ts": ts,
        }
        self._dispatch(self._event_body(event))

    def click(self, number: str) -> None:
        try:
            element, message, channel = self.buttons[int(number) - 1]
        except (ValueError, IndexError):
            print(
                "\n  (No such button. Buttons of Truce's last message are numbered from 1.)\n", file=self.out
            )
            return
        payload = {
            "type": "block_actions",
            "user": {"id": USER, "username": "you", "name": "you", "team_id": fakeslack.TEAM_ID},
            "api_app_id": "A0CONSOLE1",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"{uuid.uuid4().int % 10**12}.console",
            "team": {"id": fakeslack.TEAM_ID, "domain": "console"},
            "channel": {"id": channel, "name": CHANNEL_NAME},
            "message": {
                "type": "message",
                "ts": message["ts"],
                "text": message["text"],
                "blocks": message["blocks"],
            },
            "response_url": self.fake.response_url(uuid.uuid4().hex[:8]),
            "actions": [{**element, "block_id": message.get("block_id"), "action_ts": f"{time.time():.6f}"}],
        }
        opened_before = len(self.fake.calls_to("views.open"))
        self._dispatch({"payload": json.dumps(payload)}, form=True)
        opened = self.fake.calls_to("views.open")[opened_before:]
        for call in opened:
            title = ((call.params.get("view") or {}).get("title") or {}).get("text", "a dialog")
            print(
                f'\n  (Truce opened a dialog, "{title}": in Slack you would fill it in there.)\n',
                file=self.out,
            )

    def mention(self, text: str) -> None:
        ts = f"{time.time():.6f}"
        if self.thread_ts:
            self.fake.add_message(
                CHANNEL,
                {
                    "user": USER,
                    "text": f"<@{fakeslack.BOT_USER_ID}> {text}",
                    "ts": ts,
                    "thread_ts": self.thread_ts,
                },
            )
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
                **({"thread_ts": self.thread_ts} if self.thread_ts else {}),
            },
            "authorizations": [
                {"team_id": fakeslack.TEAM_ID, "user_id": fakeslack.BOT_USER_ID, "is_bot": True}
            ],
        }
        self._dispatch(body)

    def command(self, line: str) -> None:
        command, _, text = line.partition(" ")
        if command not in KNOWN_COMMANDS:
            print(f"\n  (Truce has no command {command}. Try /remedy or /pulse.)\n", file=self.out)
            return
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

    def _dispatch(self, body: dict, form: bool = False) -> None:
        if form:
            request = BoltRequest(
                body=urlencode(body),
                headers={"content-type": "application/x-www-form-urlencoded"},
                mode="socket_mode",
            )
        else:
            request = BoltRequest(body=body, mode="socket_mode")
        response = self.app.dispatch(request)
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
        word, _, rest = line.partition(" ")
        if line.startswith("/"):
            self.command(line)
        elif word == ":thread":
            self.start_thread()
        elif word == ":end":
            self.thread_ts = None
            print("  (back in the channel)", file=self.out)
        elif word == ":say":
            self.say(rest)
        elif word == ":dm":
            self.dm(rest)
        elif word == ":click":
            self.click(rest.strip())
        elif self.thread_ts is not None and not line.lower().startswith("@truce"):
            self.thread_line(line)
        elif line.lower().startswith("@truce"):
            self.mention(line[len("@truce") :].strip())
        elif line.startswith(":"):
            print(f"\n  (Unknown console command {word}. The banner lists them.)\n", file=self.out)
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
