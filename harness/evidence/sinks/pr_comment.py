"""A sticky pull-request comment: one comment per marker, updated in place on every run.

Takes a Markdown document (the gate's summary) and, on a pull request, edits the comment that
starts with ``<!-- drill-harness:<marker> -->`` or creates it, through the GitHub REST API
(``GITHUB_API_URL``, ``GITHUB_REPOSITORY``, the pull request number from ``GITHUB_EVENT_PATH``,
a token from ``GITHUB_TOKEN``; the job needs ``pull-requests: write``). The token is never
printed. Outside a pull request there is nothing to do.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, ProviderError
from harness.evidence.sinks import SinkContext

#: GitHub refuses comment bodies above 65536 characters
LIMIT = 65000
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_MARKER = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def pull_request_number() -> int | None:
    """The pull request of this workflow run, from the event payload (None when not a PR event)."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    number = (event.get("pull_request") or {}).get("number") if isinstance(event, dict) else None
    return number if isinstance(number, int) and number > 0 else None


@dataclass
class PullRequestCommentSink:
    marker: str = "gate"
    token_env: str = "GITHUB_TOKEN"  # noqa: S105 (the variable's name, not a token)
    pull_request: int | None = None
    repository: str | None = None
    name: str = "pr-comment"
    #: what the last write did: created, updated or skipped (not a pull request)
    outcome: str = ""

    def _request(self, method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (the API base is https or loopback http)
            url, data=data, method=method,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ProviderError(f"pr-comment: GitHub answered HTTP {exc.code} to {method}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ProviderError(f"pr-comment: GitHub API unreachable ({type(exc).__name__})") from None

    def write(self, doc: str, context: SinkContext | None = None) -> Path | None:
        if not _MARKER.fullmatch(self.marker):
            raise ConfigError(f"pr-comment: marker {self.marker!r} must be lower-case letters, digits, - _ .")
        repo = self.repository or os.environ.get("GITHUB_REPOSITORY", "")
        number = self.pull_request or pull_request_number()
        if not number or not repo:
            self.outcome = "skipped"
            return None
        if not _REPO.fullmatch(repo):
            raise ConfigError("pr-comment: GITHUB_REPOSITORY is not owner/name")
        token = os.environ.get(self.token_env, "")
        if not token:
            raise ConfigError(f"pr-comment: environment variable {self.token_env} is not set")
        api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        if not (api.startswith("https://") or api.startswith(("http://127.0.0.1", "http://localhost"))):
            raise ConfigError("pr-comment: GITHUB_API_URL must be https")
        tag = f"<!-- drill-harness:{self.marker} -->"
        body = f"{tag}\n{doc}"
        if len(body) > LIMIT:
            body = body[: LIMIT - 60] + "\n\n… (truncated; the full report is in the job summary)\n"
        existing = self._find(api, repo, number, tag, token)
        if existing is None:
            self._request("POST", f"{api}/repos/{repo}/issues/{number}/comments", token, {"body": body})
            self.outcome = "created"
        else:
            self._request("PATCH", f"{api}/repos/{repo}/issues/comments/{existing}", token, {"body": body})
            self.outcome = "updated"
        return None

    def _find(self, api: str, repo: str, number: int, tag: str, token: str) -> int | None:
        for page in range(1, 51):  # at most 5000 comments
            url = f"{api}/repos/{repo}/issues/{number}/comments?per_page=100&page={page}"
            comments = self._request("GET", url, token)
            if not isinstance(comments, list):
                raise ProviderError("pr-comment: GitHub's comment list is not a list")
            for comment in comments:
                if isinstance(comment, dict) and str(comment.get("body", "")).startswith(tag):
                    return int(comment["id"])
            if len(comments) < 100:
                return None
        return None
