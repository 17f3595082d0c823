"""A loopback stand-in for Slack's Web API that records every call.

It powers the offline console (`python -m bot` with no credentials) and the tests, the way
bolt-python's own tests use a mock Web API server. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

BOT_USER_ID = "UTRUCE0001"
BOT_ID = "BTRUCE0001"
TEAM_ID = "T0TRUCE01"
APP_ID = "A0TRUCE001"


@dataclass
class FakeWorkspace:
    """A workspace that can install Truce through the fake's oauth.v2.access."""

    team_id: str
    team_name: str
    code: str  # what Slack would hand the browser on the redirect
    token: str = ""  # the bot token oauth.v2.access issues (set once installed)
    bot_user_id: str = BOT_USER_ID
    enterprise_id: str | None = None
    rotating: bool = False  # token rotation on: tokens expire, refresh tokens renew them
    expires_in: int = 43_200
    refresh_token: str = ""
    issued: int = 0  # tokens issued so far (install + refreshes)


@dataclass
class Call:
    method: str  # "chat.postMessage", "response_url", "upload", ...
    params: dict
    at: float = field(default_factory=time.time)
    reply: dict = field(default_factory=dict)  # what the fake answered


# A fault hook gets (method, params, attempt number for that method) and may return
# (http status, headers, body dict) to answer instead of the normal reply.
Fault = Callable[[str, dict, int], "tuple[int, dict, dict] | None"]


class FakeSlack:
    def __init__(self, on_call: Callable[[Call], None] | None = None, channels: list[dict] | None = None):
        self.calls: list[Call] = []
        self.on_call = on_call
        self.fault: Fault | None = None
        self.channels = channels if channels is not None else []
        self.members: dict[str, list[str]] = {}
        # Conversations it serves to conversations.replies / .history; posts made through it join them.
        self.threads: dict[tuple[str, str], list[dict]] = {}
        self.history: dict[str, list[dict]] = {}
        self.page_size = 15  # Slack may answer reads with pages this small
        self.socket_mode_url: str | None = None  # what apps.connections.open hands out
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._attempts: dict[str, int] = {}
        # OAuth: workspaces by install code, by bot token and by refresh token
        self.workspaces: dict[str, FakeWorkspace] = {}
        self._by_token: dict[str, FakeWorkspace] = {}
        self._by_refresh: dict[str, FakeWorkspace] = {}
        self.client_id = "1111.2222"
        self.client_secret = "fake-client-secret"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output and console clean
                pass

            def do_POST(self):
                fake._handle(self)

            def do_PUT(self):
                fake._handle(self)

            def do_GET(self):
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-slack")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.base_url}respond/{name}"

    # ---- OAuth --------------------------------------------------------------------------------
    def add_workspace(
        self,
        team_id: str,
        team_name: str = "",
        *,
        rotating: bool = False,
        expires_in: int = 43_200,
        enterprise_id: str | None = None,
        bot_user_id: str = BOT_USER_ID,
    ) -> FakeWorkspace:
        """A workspace whose admin will approve the install: the redirect carries `code`."""
        workspace = FakeWorkspace(
            team_id=team_id,
            team_name=team_name or f"Workspace {team_id}",
            code=f"code-{team_id}-{next(self._ts)}",
            bot_user_id=bot_user_id,
            enterprise_id=enterprise_id,
            rotating=rotating,
            expires_in=expires_in,
        )
        with self._lock:
            self.workspaces[workspace.code] = workspace
        return workspace

    def _issue(self, workspace: FakeWorkspace) -> dict:
        workspace.issued += 1
        prefix = "xoxe.xoxb" if workspace.rotating else "xoxb"
        workspace.token = f"{prefix}-{workspace.team_id}-{workspace.issued}-{next(self._ts)}"
        self._by_token[workspace.token] = workspace
        answer = {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": f"U0ADMIN{workspace.team_id[-3:]}"},
            "scope": "app_mentions:read,chat:write,commands",
            "token_type": "bot",
            "access_token": workspace.token,
            "bot_user_id": workspace.bot_user_id,
            "team": {"id": workspace.team_id, "name": workspace.team_name},
            "enterprise": {"id": workspace.enterprise_id, "name": "Grid"}
            if workspace.enterprise_id
            else None,
            "is_enterprise_install": False,
        }
        if workspace.rotating:
            workspace.refresh_token = f"xoxe-1-refresh-{workspace.team_id}-{workspace.issued}"
            self._by_refresh[workspace.refresh_token] = workspace
            answer.update(refresh_token=workspace.refresh_token, expires_in=workspace.expires_in)
        return answer

    def _oauth_access(self, params: dict) -> dict:
        with self._lock:
            if params.get("grant_type") == "refresh_token":
                workspace = self._by_refresh.pop(str(params.get("refresh_token")), None)
                if workspace is None:
                    return {"ok": False, "error": "invalid_refresh_token"}
                workspace.expires_in = 43_200  # the renewed token lasts the usual 12 hours
                self._by_token.pop(workspace.token, None)  # the old token stops working
                return self._issue(workspace)
            workspace = self.workspaces.get(str(params.get("code")))
            if workspace is None or workspace.token:
                return {"ok": False, "error": "invalid_code"}  # unknown, or already used
            return self._issue(workspace)

    def workspace_of(self, token: str) -> FakeWorkspace | None:
        with self._lock:
            return self._by_token.get(token)

    def uninstall(self, team_id: str) -> None:
        """The workspace removed the app: its tokens stop working."""
        with self._lock:
            for token, workspace in list(self._by_token.items()):
                if workspace.team_id == team_id:
                    del self._by_token[token]

    # ---- queries for tests ------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        return self.calls_to(method)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._attempts.clear()
            self.threads.clear()
            self.history.clear()
            self.page_size = 15

    # ---- the server side --------------------------------------------------------------------
    def _params(self, handler: BaseHTTPRequestHandler, raw: bytes) -> dict:
        ctype = handler.headers.get("Content-Type", "")
        if "json" in ctype:
            try:
                return json.loads(raw or b"{}")
            except json.JSONDecodeError:
                return {}
        if "x-www-form-urlencoded" in ctype:
            params = dict(parse_qsl(raw.decode("utf-8", "replace")))
            for key in ("blocks", "attachments", "view", "files"):
                if key in params:
                    with contextlib.suppress(json.JSONDecodeError):
                        params[key] = json.loads(params[key])
            return params
        return {"_bytes": len(raw)}

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        path = urlparse(handler.path).path
        if path.startswith("/api/"):
            method = path[len("/api/") :]
        elif path.startswith("/respond/"):
            method = "response_url"
        elif path.startswith("/upload/"):
            method = "upload"
        else:
            method = path
        params = self._params(handler, raw)
        auth = handler.headers.get("Authorization", "")
        if auth:
            params["_token"] = auth.removeprefix("Bearer ")
        with self._lock:
            attempt = self._attempts.get(method, 0) + 1
            self._attempts[method] = attempt
        fault = self.fault(method, params, attempt) if self.fault else None
        if fault:
            status, headers, body = fault
        else:
            status, headers, body = 200, {}, self._answer(method, params)
            call = Call(method, params, reply=body)
            with self._lock:
                self.calls.append(call)
            if self.on_call:
                self.on_call(call)
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            handler.send_header(key, str(value))
        handler.end_headers()
        handler.wfile.write(data)

    def add_message(self, channel: str, message: dict) -> dict:
        """Put a message into a channel (and its thread, when it has `thread_ts`), as Slack would."""
        message = {"type": "message", **message}
        message.setdefault("ts", self._next_ts())
        with self._lock:
            thread_ts = message.get("thread_ts")
            if thread_ts:
                thread = self.threads.setdefault((channel, thread_ts), [])
                if not thread:
                    parent = next((m for m in self.history.get(channel, []) if m["ts"] == thread_ts), None)
                    thread.append(
                        parent or {"type": "message", "ts": thread_ts, "user": "U0PARENT01", "text": ""}
                    )
                thread.append(message)
            if not thread_ts or message.get("subtype") == "thread_broadcast":
                self.history.setdefault(channel, []).append(message)
        return message

    def _replies(self, params: dict) -> dict:
        thread = self.threads.get((str(params.get("channel")), str(params.get("ts"))))
        if thread is None:
            return {"ok": False, "error": "thread_not_found"}
        return self._page(sorted(thread, key=lambda m: float(m["ts"])), params)

    def _history(self, params: dict) -> dict:
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 9e12)
        found = [
            m for m in self.history.get(str(params.get("channel")), []) if oldest < float(m["ts"]) < latest
        ]
        return self._page(sorted(found, key=lambda m: float(m["ts"]), reverse=True), params)

    def _page(self, messages: list[dict], params: dict) -> dict:
        start = int(params.get("cursor") or 0)
        size = min(int(params.get("limit") or 100), self.page_size)
        page = messages[start : start + size]
        more = start + size < len(messages)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + size) if more else ""},
        }

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _answer(self, method: str, params: dict) -> dict:
        ok = {"ok": True}
        if method == "oauth.v2.access":
            return self._oauth_access(params)
        if method == "auth.test" and self.workspaces:
            workspace = self.workspace_of(str(params.get("_token") or params.get("token") or ""))
            if workspace is None:
                return {"ok": False, "error": "invalid_auth"}
            return {
                "ok": True,
                "url": f"https://{workspace.team_id.lower()}.slack.com/",
                "team": workspace.team_name,
                "user": "truce",
                "team_id": workspace.team_id,
                "user_id": workspace.bot_user_id,
                "bot_id": "B" + workspace.team_id[1:],
                "enterprise_id": workspace.enterprise_id,
                "is_enterprise_install": False,
            }
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://truce-console.slack.com/",
                "team": "Truce Console",
                "user": "truce",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "apps.connections.open":
            if not self.socket_mode_url:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": self.socket_mode_url}
        if method == "chat.postMessage":
            channel = str(params.get("channel"))
            posted = {"text": params.get("text", ""), "bot_id": BOT_ID, "user": BOT_USER_ID}
            if params.get("blocks"):
                posted["blocks"] = params["blocks"]
            if params.get("thread_ts"):
                posted["thread_ts"] = params["thread_ts"]
            message = self.add_message(channel, posted)
            return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}
        if method == "conversations.replies":
            return self._replies(params)
        if method == "conversations.history":
            return self._history(params)
        if method == "chat.getPermalink":
            ts = str(params.get("message_ts", "")).replace(".", "")
            return {
                "ok": True,
                "permalink": f"https://truce-console.slack.com/archives/{params.get('channel')}/p{ts}",
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.update":
            return {
                "ok": True,
                "channel": params.get("channel"),
                "ts": params.get("ts"),
                "text": params.get("text"),
            }
        if method in ("views.open", "views.push", "views.update"):
            return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **(params.get("view") or {})}}
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V0CONSOLE", **(params.get("view") or {})}}
        if method == "conversations.list":
            return {"ok": True, "channels": self.channels, "response_metadata": {"next_cursor": ""}}
        if method == "users.conversations":
            return {"ok": True, "channels": self.channels, "response_metadata": {"next_cursor": ""}}
        if method == "conversations.members":
            members = self.members.get(str(params.get("channel")), [])
            return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}
        if method == "conversations.open":
            users = str(params.get("users") or params.get("user") or "")
            return {"ok": True, "channel": {"id": "D" + (users.split(",")[0][1:] or "0DM")}}
        if method == "conversations.info":
            channel = next((c for c in self.channels if c.get("id") == params.get("channel")), None)
            return {"ok": True, "channel": channel or {"id": params.get("channel"), "is_member": True}}
        if method == "files.getUploadURLExternal":
            return {"ok": True, "upload_url": f"{self.base_url}upload/F0001", "file_id": "F0CONSOLE1"}
        if method == "files.completeUploadExternal":
            files = params.get("files") or [{"id": "F0CONSOLE1"}]
            return {"ok": True, "files": [{"id": f.get("id"), "title": f.get("title", "")} for f in files]}
        if method in ("upload", "response_url"):
            return ok
        return ok
