"""The CLI's side of the local API. Plain urllib: the CLI must start fast."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from coalmine.errors import CoalmineError, ManifestError, NotFound, Problem, Unavailable

__all__ = ["LocalClient"]

TIMEOUT_SECONDS = 30.0


class LocalClient:
    """Talks to the `coalmine up` whose state directory is given."""

    def __init__(self, state_dir: Path, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.state_dir = state_dir
        self.timeout = timeout
        endpoint = state_dir / "api.json"
        try:
            published = json.loads(endpoint.read_text())
        except (OSError, ValueError):
            raise self._not_running() from None
        self.url: str = published["url"]
        self.token: str = published["token"]

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/v1/health"))

    def apply(self, text: str, source: str) -> list[dict[str, Any]]:
        answer = self._call("POST", "/v1/apply", {"text": text, "source": source})
        return list(answer["results"])

    def delete(self, text: str, source: str) -> list[dict[str, Any]]:
        answer = self._call("POST", "/v1/delete", {"text": text, "source": source})
        return list(answer["results"])

    def objects(
        self, kind: str | None = None, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        query = {k: v for k, v in (("kind", kind), ("namespace", namespace)) if v}
        return list(self._call("GET", f"/v1/objects?{urllib.parse.urlencode(query)}")["items"])

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        path = "/".join(urllib.parse.quote(part) for part in (kind, namespace, name))
        return dict(self._call("GET", f"/v1/objects/{path}"))

    def events(
        self,
        namespace: str | None = None,
        name: str | None = None,
        after: int = 0,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        query: dict[str, str] = {"after": str(after), "limit": str(limit)}
        if namespace:
            query["namespace"] = namespace
        if name:
            query["name"] = name
        return list(self._call("GET", f"/v1/events?{urllib.parse.urlencode(query)}")["items"])

    def request(self, namespace: str, name: str, action: str, by: str) -> dict[str, Any]:
        """Ask the canary to promote or abort at its next tick (now); answers the Canary."""
        path = f"/v1/canaries/{_quoted(namespace, name)}/request"
        return dict(self._call("POST", path, {"action": action, "by": by}))

    def suspend(self, namespace: str, name: str, suspended: bool, by: str) -> dict[str, Any]:
        """Pause (True) or resume (False) a canary; answers the Canary."""
        path = f"/v1/canaries/{_quoted(namespace, name)}/suspend"
        return dict(self._call("POST", path, {"suspend": suspended, "by": by}))

    def revision(self, namespace: str, deployment: str) -> str:
        """The revision of a Deployment's pod template, as a canary sees it."""
        path = f"/v1/deployments/{_quoted(namespace, deployment)}/revision"
        return str(self._call("GET", path)["revision"])

    def set_env(
        self, namespace: str, deployment: str, env: dict[str, str], container: str | None
    ) -> str:
        """Set environment variables of a Deployment's container; answers the new revision."""
        path = f"/v1/deployments/{_quoted(namespace, deployment)}/env"
        return str(self._call("POST", path, {"env": env, "container": container})["revision"])

    def metrics(self, namespace: str, name: str, interval: str) -> dict[str, Any]:
        path = "/".join(urllib.parse.quote(part) for part in (namespace, name))
        query = urllib.parse.urlencode({"interval": interval})
        return dict(self._call("GET", f"/v1/metrics/{path}?{query}"))

    def history(self, namespace: str, name: str, ticks: int | None = None) -> dict[str, Any]:
        """A canary's recorded ticks, checks and samples (`coalmine.history.Records`);
        with `ticks`, only that many of the newest ticks and nothing else."""
        query = f"?ticks={ticks}" if ticks is not None else ""
        return dict(self._call("GET", f"/v1/history/{_quoted(namespace, name)}{query}"))

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the URL is our own 127.0.0.1 endpoint
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 401 and self._reload():
                return self._call(method, path, body)
            raise _as_error(error) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if self._reload():
                return self._call(method, path, body)
            raise self._not_running() from None

    def _reload(self) -> bool:
        """A restarted `coalmine up` publishes a new address and token: take them. True
        when they changed (the call is worth repeating)."""
        try:
            published = json.loads((self.state_dir / "api.json").read_text())
            url, token = str(published["url"]), str(published["token"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if (url, token) == (self.url, self.token):
            return False
        self.url, self.token = url, token
        return True

    def _not_running(self) -> Unavailable:
        return Unavailable(
            f"no coalmine up is running for state directory {self.state_dir}; "
            f"start one with: coalmine up --state-dir {self.state_dir}"
        )


def _quoted(*parts: str) -> str:
    return "/".join(urllib.parse.quote(part, safe="") for part in parts)


def _as_error(error: urllib.error.HTTPError) -> CoalmineError:
    try:
        answer = json.loads(error.read())
    except ValueError:
        answer = {}
    message = answer.get("error") or f"HTTP {error.code} from the local API"
    if error.code == 422 and "problems" in answer:
        return ManifestError([Problem(**p) for p in answer["problems"]])
    if error.code == 404:
        return NotFound(message)
    if error.code == 413:
        return CoalmineError(
            "the request is larger than coalmine up accepts; split the manifests, or start"
            " coalmine up with a larger --max-request-mib"
        )
    if error.code == 401:
        return Unavailable(f"{message}: the state directory belongs to another coalmine up")
    if error.code >= 500 or error.code == 429:
        return Unavailable(f"{message} (HTTP {error.code}): the local runtime is not ready")
    return CoalmineError(message)
