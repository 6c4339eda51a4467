"""A local Hugging Face Hub stand-in: a real HTTP server on 127.0.0.1 that the real ``huggingface_hub``
client talks to (whoami, repository creation, README validation, preupload, commit, repository info).

It keeps every repository's files in memory and records each request, so tests can check what was
uploaded. Small files are committed inline (base64), the server telling the client so in its
preupload answer, so no LFS storage is needed. Failures are injected per endpoint: ``drop`` closes
the connection after reading the request (an upload cut mid-way), an integer answers that HTTP status.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

WRITE_TOKEN = "hf_aliceWriteToken0123456789"
READ_TOKEN = "hf_bobReadToken0123456789ab"
OTHER_WRITE_TOKEN = "hf_malloryWriteToken01234567"


@dataclass
class Account:
    name: str
    role: str
    orgs: tuple[str, ...] = ()


ACCOUNTS = {
    WRITE_TOKEN: Account("alice", "write", ("swarm-lab",)),
    READ_TOKEN: Account("bob", "read"),
    OTHER_WRITE_TOKEN: Account("mallory", "write"),
}


@dataclass
class Repo:
    repo_id: str
    owner: str
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return self.commits[-1]["oid"] if self.commits else "0" * 40


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self._failures: dict[str, list[int | str]] = {}

    def reset(self) -> None:
        with self.lock:
            self.repos.clear()
            self.requests.clear()
            self._failures.clear()

    def fail(self, endpoint: str, how: int | str = "drop", times: int = 1) -> None:
        """The next ``times`` requests to ``endpoint`` (whoami, create, validate, preupload, commit, info)
        fail: ``"drop"`` closes the connection mid-request, an int answers that HTTP status."""
        with self.lock:
            self._failures.setdefault(endpoint, []).extend([how] * times)

    def heal(self) -> None:
        """Drop every failure still queued: the Hub is back."""
        with self.lock:
            self._failures.clear()

    def take_failure(self, endpoint: str) -> int | str | None:
        with self.lock:
            queue = self._failures.get(endpoint)
            return queue.pop(0) if queue else None

    def add_repo(self, repo_id: str, owner: str, files: dict[str, bytes] | None = None) -> Repo:
        with self.lock:
            repo = Repo(repo_id, owner, private=False, files=dict(files or {}))
            self.repos[repo_id] = repo
            return repo

    def count(self, endpoint: str) -> int:
        with self.lock:
            return sum(1 for _, e in self.requests if e == endpoint)

    @property
    def commits(self) -> list[dict[str, Any]]:
        with self.lock:
            return [c for repo in self.repos.values() for c in repo.commits]


_REPO_PATH = r"/api/models/(?P<repo>[^/]+/[^/]+)"
_ROUTES = [
    ("GET", re.compile(r"/api/whoami-v2"), "whoami"),
    ("POST", re.compile(r"/api/repos/create"), "create"),
    ("POST", re.compile(r"/api/validate-yaml"), "validate"),
    ("POST", re.compile(_REPO_PATH + r"/preupload/(?P<rev>[^/]+)"), "preupload"),
    ("POST", re.compile(_REPO_PATH + r"/commit/(?P<rev>[^/]+)"), "commit"),
    ("GET", re.compile(_REPO_PATH + r"(?:/revision/(?P<rev>[^/]+))?"), "info"),
]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        found = next(
            (
                (name, m)
                for verb, pattern, name in _ROUTES
                if verb == method and (m := pattern.fullmatch(path))
            ),
            None,
        )
        if found is None:
            self._reply(404, {"error": f"no route for {method} {path}"})
            return
        name, match = found
        state = self.server.state
        with state.lock:
            state.requests.append((method, name))
        length = int(self.headers.get("Content-Length") or 0)
        failure = state.take_failure(name)
        if failure == "drop":
            # read part of the upload, then hang up without answering
            self.rfile.read(min(length, 64))
            self.close_connection = True
            self.connection.shutdown(2)
            return
        body = self.rfile.read(length) if length else b""
        if isinstance(failure, int):
            self._reply(failure, {"error": f"injected HTTP {failure}"})
            return
        account = ACCOUNTS.get((self.headers.get("authorization") or "").removeprefix("Bearer "))
        if account is None:
            self._reply(401, {"error": "Invalid credentials in Authorization header"})
            return
        getattr(self, f"_{name}")(account, body, **match.groupdict())

    def _whoami(self, account: Account, body: bytes) -> None:
        self._reply(
            200,
            {
                "type": "user",
                "name": account.name,
                "orgs": [{"name": org, "type": "org"} for org in account.orgs],
                "auth": {"type": "access_token", "accessToken": {"displayName": "t", "role": account.role}},
            },
        )

    def _can_write(self, account: Account, namespace: str) -> bool:
        return account.role == "write" and (namespace == account.name or namespace in account.orgs)

    def _create(self, account: Account, body: bytes) -> None:
        payload = json.loads(body)
        namespace = payload.get("organization") or account.name
        repo_id = f"{namespace}/{payload['name']}"
        state = self.server.state
        if not self._can_write(account, namespace):
            self._reply(
                403,
                {"error": f'You don\'t have the rights to create a model under the namespace "{namespace}"'},
            )
            return
        with state.lock:
            if repo_id in state.repos:
                self._reply(409, {"error": "You already created this model repo", "url": self._url(repo_id)})
                return
            state.repos[repo_id] = Repo(repo_id, namespace, payload.get("visibility") == "private")
        self._reply(200, {"url": self._url(repo_id), "name": repo_id, "id": repo_id})

    def _validate(self, account: Account, body: bytes) -> None:
        content = json.loads(body)["content"]
        if content.startswith("---"):
            end = content.find("\n---", 3)
            try:
                meta = yaml.safe_load(content[3:end]) if end > 0 else None
            except yaml.YAMLError as exc:
                self._reply(400, {"errors": [{"message": f"invalid YAML: {exc}"}], "warnings": []})
                return
            if not isinstance(meta, dict):
                self._reply(400, {"errors": [{"message": "metadata must be a mapping"}], "warnings": []})
                return
        self._reply(200, {"errors": [], "warnings": []})

    def _repo_for_write(self, account: Account, repo_id: str) -> Repo | None:
        repo = self.server.state.repos.get(repo_id)
        if repo is None:
            self._reply(404, {"error": "Repository not found"}, error_code="RepoNotFound")
            return None
        if not self._can_write(account, repo.owner):
            self._reply(403, {"error": "You don't have the rights to write to this repository"})
            return None
        return repo

    def _preupload(self, account: Account, body: bytes, repo: str, rev: str) -> None:
        target = self._repo_for_write(account, repo)
        if target is None:
            return
        files = json.loads(body)["files"]
        answer = []
        for item in files:
            existing = target.files.get(item["path"])
            answer.append(
                {
                    "path": item["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_oid(existing) if existing is not None else None,
                }
            )
        self._reply(200, {"files": answer, "commitOid": target.sha})

    def _commit(self, account: Account, body: bytes, repo: str, rev: str) -> None:
        target = self._repo_for_write(account, repo)
        if target is None:
            return
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(item["value"] for item in lines if item["key"] == "header")
        changed: dict[str, bytes] = {}
        for item in lines:
            if item["key"] == "file":
                value = item["value"]
                if value.get("encoding") != "base64":
                    self._reply(400, {"error": "only base64 file contents are accepted"})
                    return
                changed[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] != "header":
                self._reply(400, {"error": f"unsupported commit operation {item['key']}"})
                return
        state = self.server.state
        with state.lock:
            oid = hashlib.sha1(f"{repo}:{len(target.commits)}:{header['summary']}".encode()).hexdigest()
            target.files.update(changed)
            target.commits.append(
                {
                    "oid": oid,
                    "repo_id": repo,
                    "summary": header["summary"],
                    "files": dict(changed),
                    "author": account.name,
                }
            )
        self._reply(
            200, {"commitUrl": f"{self._url(repo)}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None}
        )

    def _info(self, account: Account, body: bytes, repo: str, rev: str | None = None) -> None:
        target = self.server.state.repos.get(repo)
        if target is None or (target.private and not self._can_write(account, target.owner)):
            self._reply(404, {"error": "Repository not found"}, error_code="RepoNotFound")
            return
        self._reply(
            200,
            {
                "id": repo,
                "modelId": repo,
                "author": target.owner,
                "sha": target.sha,
                "private": target.private,
                "siblings": [{"rfilename": name} for name in sorted(target.files)],
            },
        )

    def _url(self, repo_id: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/{repo_id}"

    def _reply(self, status: int, body: dict[str, Any], error_code: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if error_code:
            self.send_header("X-Error-Code", error_code)
        if status >= 400 and "error" in body:
            self.send_header("X-Error-Message", str(body["error"]))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: HubState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@dataclass
class FakeHub:
    url: str
    state: HubState

    def repo(self, repo_id: str) -> Repo:
        return self.state.repos[repo_id]


@pytest.fixture(scope="session")
def fake_hub_server() -> Iterator[FakeHub]:
    state = HubState()
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, name="fake-hub", daemon=True)
    thread.start()
    try:
        yield FakeHub(f"http://127.0.0.1:{server.server_address[1]}", state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fake_hub(fake_hub_server: FakeHub, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """The session's fake Hub, emptied, with the client allowed online and pointed at it."""
    import huggingface_hub.constants as constants

    fake_hub_server.state.reset()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_ENDPOINT", fake_hub_server.url)
    # huggingface_hub reads these once at import; the suite imports it offline
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    return fake_hub_server
