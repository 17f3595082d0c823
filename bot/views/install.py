"""The pages a person's browser sees during an "Add to Slack" install (pure HTML builders)."""

from __future__ import annotations

from html import escape

_STYLE = (
    "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:36rem;margin:4rem auto;"
    "padding:0 1rem;color:#1d1c1d;line-height:1.5}code{background:#f4f4f4;padding:0 .3em;border-radius:3px}"
)

FAILURE_REASONS = {
    "access_denied": "The install was cancelled in Slack.",
    "invalid_browser": "This page was opened in a different browser than the one that started the install.",
    "invalid_state": "The install link has expired or was already used.",
    "missing_code": "Slack did not send an authorisation code.",
    "invalid_code": "Slack did not accept the authorisation code.",
    "storage_error": "Truce could not save the installation.",
}


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style>'
        f"</head><body>{body}</body></html>"
    )


def install_page(authorize_url: str) -> str:
    """GET /slack/install: the "Add to Slack" link."""
    url = escape(authorize_url, quote=True)
    return _page(
        "Add Truce to Slack",
        "<h1>Truce</h1><p>Truce names the likely cause of friction between Sales and Marketing and "
        "proposes concrete next steps, in the channels the two teams share.</p>"
        f'<p><a href="{url}"><img alt="Add to Slack" height="40" width="139" '
        'src="https://platform.slack-edge.com/img/add_to_slack.png" '
        'srcset="https://platform.slack-edge.com/img/add_to_slack.png 1x, '
        'https://platform.slack-edge.com/img/add_to_slack@2x.png 2x"></a></p>'
        f'<p>If the button does not show, <a href="{url}">add Truce to Slack here</a>.</p>',
    )


def install_success_page(team_name: str | None, app_link: str | None = None) -> str:
    """GET /slack/oauth_redirect after a good install: what to do next."""
    where = escape(team_name) if team_name else "your workspace"
    back = f'<p><a href="{escape(app_link, quote=True)}">Open Slack</a></p>' if app_link else ""
    return _page(
        "Truce is installed",
        f"<h1>Truce is installed in {where}</h1>"
        "<p>Next: go to the channel Sales and Marketing share and invite Truce there:</p>"
        "<p><code>/invite @Truce</code></p>"
        "<p>Then mention <code>@Truce</code> with what is going on, try <code>/remedy</code>, or open "
        "Truce's <b>Home</b> tab. The weekly pulse starts in every channel Truce is invited to "
        "(<code>/pulse</code> there shows or changes its schedule).</p>" + back,
    )


def install_failure_page(reason: str) -> str:
    """GET /slack/oauth_redirect when the install did not complete."""
    why = FAILURE_REASONS.get(reason, "The install did not complete.")
    return _page(
        "Truce was not installed",
        f"<h1>Truce was not installed</h1><p>{escape(why)}</p>"
        '<p><a href="/slack/install">Start again</a></p>',
    )
