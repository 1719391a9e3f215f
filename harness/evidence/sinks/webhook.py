"""A chat message per run: a Slack-compatible incoming webhook (also Mattermost, Rocket.Chat, ...).

``--sink webhook`` posts ``{"text": ..., "blocks": [...]}`` to the URL held in the environment
variable ``DRILL_WEBHOOK_URL`` (``url_env=OTHER`` to change it); ``only_failures=true`` stays
quiet for verified runs. The URL is a credential: it is never printed, logged or written into
evidence, and an error names only the variable and the HTTP status.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from harness.errors import ConfigError, ProviderError
from harness.evidence.sinks import SinkContext

DEFAULT_URL_ENV = "DRILL_WEBHOOK_URL"
_ICON = {"verified": ":white_check_mark:", "failed": ":x:", "error": ":no_entry:"}


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_url(variable: str) -> str:
    """The URL in ``variable``: https, or http only to a loopback address (a local relay, a test)."""
    url = os.environ.get(variable, "")
    if not url:
        raise ConfigError(f"webhook: environment variable {variable} is not set")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname or "")):
        raise ConfigError(f"webhook: the URL in {variable} must be https (http only to a loopback address)")
    return url


def message(doc: dict[str, Any], evidence: Path | None) -> dict[str, Any]:
    """The chat payload: verdict, reason, RTO/RPO against objectives, the evidence file, the CI run."""
    name, verdict = doc["scenario"]["name"], doc["verdict"]
    head = f"{_ICON.get(verdict, '')} Drill `{name}`: *{verdict.upper()}* (exit {doc['exit_code']})"
    lines = [head, doc["reason"][:300]]
    for key in ("rto", "rpo"):
        m = doc["measurements"][key]
        if m.get("measured_seconds") is not None:
            goal = m.get("objective_seconds")
            lines.append(
                f"{key.upper()} {m['measured_seconds']:.1f}s"
                + (f" (objective {goal:.0f}s, met: {'yes' if m.get('met') else 'NO'})" if goal else "")
            )
    if evidence is not None:
        lines.append(f"evidence: `{evidence.name}`")
    server, repo, run = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repo and run:
        lines.append(f"<{server}/{repo}/actions/runs/{run}|CI run {run}>")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


class WebhookSink:
    name = "webhook"
    SETTINGS = {
        "url_env": f"environment variable holding the webhook URL (default {DEFAULT_URL_ENV})",
        "only_failures": "true: post only runs that did not verify (default false)",
    }

    def write(self, doc: dict[str, Any], context: SinkContext) -> None:
        settings = context.settings.of(self.name)
        if (
            settings.get("only_failures", "false").lower() in ("true", "1", "yes")
            and doc["verdict"] == "verified"
        ):
            return None
        variable = settings.get("url_env", DEFAULT_URL_ENV)
        url = webhook_url(variable)
        body = orjson.dumps(message(doc, context.written.get("json")))
        request = urllib.request.Request(  # noqa: S310 (scheme checked in webhook_url)
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as exc:
            raise ProviderError(f"webhook ({variable}) answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProviderError(f"webhook ({variable}) unreachable: {type(reason).__name__}") from None
        return None
