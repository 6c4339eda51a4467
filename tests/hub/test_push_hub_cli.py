"""``rlswarm push-hub`` through Typer's CliRunner, against the fake Hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import Result

from rlswarm_core.identity.names import animal_slug
from tests.helpers import Cli
from tests.hub.conftest import InstanceMaker, save_round
from tests.hub.fake_hub import READ_TOKEN, WRITE_TOKEN, FakeHub

REPO_ROOT = Path(__file__).resolve().parents[2]


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def write_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLSWARM_HF_TOKEN", WRITE_TOKEN)


def test_push_latest(
    fake_hub: FakeHub, write_token: None, make_instance: InstanceMaker, tiny_model_dir: Path, cli: Cli
) -> None:
    store = make_instance("default")
    save_round(store, tiny_model_dir, 1, reward=1.0)
    save_round(store, tiny_model_dir, 2, reward=0.5)

    result = cli("push-hub")

    assert result.exit_code == 0, result.output
    repo_id = f"alice/Qwen2.5-0.5B-Instruct-rlswarm-{animal_slug(store.root.name)}"
    line = " ".join(result.stdout.split())
    assert f"pushed round 2 of default to {fake_hub.url}/{repo_id} (7 files," in line
    assert "README.md" in fake_hub.repo(repo_id).files
    assert WRITE_TOKEN not in result.output


def test_json_best_only_private_with_message(
    fake_hub: FakeHub, write_token: None, make_instance: InstanceMaker, tiny_model_dir: Path, cli: Cli
) -> None:
    store = make_instance("default")
    save_round(store, tiny_model_dir, 1, reward=3.0)
    save_round(store, tiny_model_dir, 2, reward=0.5)

    result = cli(
        "--json", "push-hub", "--best-only", "--private", "--message", "best so far", "--repo-id", "best"
    )

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (push,) = data["pushes"]
    assert (push["round"], push["repo_id"], push["created"], push["instance"]) == (
        1,
        "alice/best",
        True,
        "default",
    )
    assert {f["path"] for f in push["files"]} >= {"config.json", "model.safetensors", "README.md"}
    repo = fake_hub.repo("alice/best")
    assert repo.private and repo.commits[0]["summary"] == "best so far"
    assert WRITE_TOKEN not in result.output


def test_round_and_endpoint_option(
    fake_hub: FakeHub,
    write_token: None,
    make_instance: InstanceMaker,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    monkeypatch.delenv("HF_ENDPOINT")
    store = make_instance("default")
    for r in (1, 2, 3):
        save_round(store, tiny_model_dir, r, reward=float(r))
    result = cli("--json", "push-hub", "--round", "2", "--endpoint", fake_hub.url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pushes"][0]["round"] == 2


def test_dry_run_lists_files_without_network(
    fake_hub: FakeHub,
    make_instance: InstanceMaker,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no token, no network: still fine
    store = make_instance("default")
    checkpoint = save_round(store, tiny_model_dir, 1, reward=1.0, optimizer=b"x" * 10)

    result = cli("--json", "push-hub", "--dry-run", "--optimizer", "full")

    assert result.exit_code == 0, result.output
    (push,) = json.loads(result.stdout)["pushes"]
    sizes = {f["path"]: f["size"] for f in push["files"]}
    for name in ("config.json", "model.safetensors", "tokenizer.json", "optimizer.pt"):
        assert sizes[name] == (checkpoint.path / name).stat().st_size
    assert sizes["README.md"] > 0 and push["bytes"] == sum(sizes.values())
    assert push["repo_id"].startswith("YOUR-HF-USER/Qwen2.5-0.5B-Instruct-rlswarm-")

    human = cli("push-hub", "--dry-run", "--org", "swarm-lab")
    assert human.exit_code == 0, human.output
    text = " ".join(human.stdout.split())
    assert "would push round 1 of default to swarm-lab/Qwen2.5-0.5B-Instruct-rlswarm-" in text
    assert "model.safetensors" in text and "total" in text
    assert fake_hub.state.requests == []


def test_read_only_token_refused_before_upload(
    fake_hub: FakeHub,
    make_instance: InstanceMaker,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    monkeypatch.setenv("RLSWARM_HF_TOKEN", READ_TOKEN)
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    line = one_line_error(cli("push-hub"))
    assert "the token of bob is read-only (read); pushing needs write access" in line
    assert "create a write token" in line and READ_TOKEN not in line
    assert fake_hub.state.count("create") == 0 and fake_hub.state.commits == []


def test_no_token(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path, no_keyring_backend: None, cli: Cli
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    line = one_line_error(cli("push-hub"))
    assert line.startswith("error: no Hugging Face token is set (run 'rlswarm login hf'")


def test_all_instances(
    fake_hub: FakeHub, write_token: None, make_instance: InstanceMaker, tiny_model_dir: Path, cli: Cli
) -> None:
    first = make_instance("default")
    second = make_instance("second")
    make_instance("idle")  # an identity without checkpoints is skipped
    save_round(first, tiny_model_dir, 1, reward=1.0)
    save_round(first, tiny_model_dir, 2, reward=5.0)
    save_round(first, tiny_model_dir, 3, reward=2.0)
    save_round(second, tiny_model_dir, 4, reward=1.0)

    result = cli("--json", "push-hub", "--all-instances", "--best-only")

    assert result.exit_code == 0, result.output
    pushes = {p["instance"]: p for p in json.loads(result.stdout)["pushes"]}
    assert set(pushes) == {"default", "second"}
    assert pushes["default"]["round"] == 2 and pushes["second"]["round"] == 4
    assert pushes["default"]["repo_id"].endswith(animal_slug(first.root.name))
    assert pushes["second"]["repo_id"].endswith(animal_slug(second.root.name))
    assert len(fake_hub.state.commits) == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--instance", "nope"], "error: instance 'nope' has no identity"),
        (["--round", "9"], "error: instance 'default' has no checkpoint for round 9"),
        (["--round", "1", "--best-only"], "error: --round and --best-only cannot be combined"),
        (["--all-instances", "--repo-id", "x/y"], "error: --repo-id names one repository"),
        (["--repo-id", "alice/bad..name"], "error: invalid repository id 'alice/bad..name'"),
        (["--org", "x", "--repo-id", "y/z"], "error: --repo-id y/z names a namespace other than --org x"),
    ],
)
def test_bad_input_is_one_line(
    args: list[str],
    expected: str,
    fake_hub: FakeHub,
    write_token: None,
    make_instance: InstanceMaker,
    tiny_model_dir: Path,
    cli: Cli,
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    assert one_line_error(cli("push-hub", *args)).startswith(expected)
    assert fake_hub.state.commits == []


def test_taken_name_is_one_line(
    fake_hub: FakeHub, write_token: None, make_instance: InstanceMaker, tiny_model_dir: Path, cli: Cli
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    fake_hub.state.add_repo("mallory/taken", "mallory")
    line = one_line_error(cli("push-hub", "--repo-id", "mallory/taken"))
    assert "mallory/taken is taken" in line and "HTTP 403" in line


def test_no_checkpoints_yet(write_token: None, make_instance: InstanceMaker, cli: Cli) -> None:
    make_instance("default")
    assert "has no checkpoints" in one_line_error(cli("push-hub"))
    assert "no instance in" in one_line_error(cli("push-hub", "--all-instances"))


def test_command_module_and_plain_dry_run_stay_light(
    make_instance: InstanceMaker, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The command module imports no heavy library; a dry run of an unsharded checkpoint needs no torch."""
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    script = (
        "import sys\n"
        "import rlswarm_cli.commands.push_hub_cmd\n"
        "heavy = ('torch', 'transformers', 'trl', 'hivemind', 'web3', 'huggingface_hub')\n"
        "print('import', sorted(m for m in heavy if m in sys.modules))\n"
        "from typer.testing import CliRunner\n"
        "from rlswarm_cli.main import app\n"
        "result = CliRunner().invoke(app, ['push-hub', '--dry-run'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('dry-run', sorted(m for m in heavy[:5] if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "import []" in done.stdout and "dry-run []" in done.stdout


def test_all_instances_goes_on_after_one_failure(
    fake_hub: FakeHub, write_token: None, make_instance: InstanceMaker, tiny_model_dir: Path, cli: Cli
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    save_round(make_instance("second"), tiny_model_dir, 1, reward=1.0)
    fake_hub.state.fail("create", 403, times=1)  # the first instance's repository is refused

    result = cli("--json", "push-hub", "--all-instances")

    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert [p["instance"] for p in data["pushes"]] == ["second"]
    assert len(data["failed"]) == 1 and data["failed"][0].startswith("default: cannot create the repository")
    assert result.stderr.strip().splitlines()[-1].startswith("error: 1 of 2 pushes failed (default: ")
    assert len(fake_hub.state.commits) == 1


@pytest.mark.parametrize("how", ["truncated", "emptied", "deleted"])
def test_a_damaged_checkpoint_is_refused_naming_the_file(
    fake_hub: FakeHub,
    write_token: None,
    make_instance: InstanceMaker,
    tiny_model_dir: Path,
    how: str,
    cli: Cli,
) -> None:
    store = make_instance("default")
    save_round(store, tiny_model_dir, 1, reward=1.0)
    weights = save_round(store, tiny_model_dir, 2, reward=2.0).path / "model.safetensors"
    if how == "deleted":
        weights.unlink()
    else:
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2] if how == "truncated" else b"")

    for args in (("push-hub", "--dry-run"), ("push-hub", "--endpoint", fake_hub.url)):
        line = one_line_error(cli(*args))
        assert "refusing to push the damaged checkpoint of round 2" in line and str(weights) in line
        assert {"truncated": "is truncated", "emptied": "is empty", "deleted": "is missing"}[how] in line
        assert "(rounds whose files are all there: 1; push one with --round N)" in line
    assert fake_hub.state.count("create") == 0 and fake_hub.state.commits == []  # nothing was uploaded

    pushed = cli("--json", "push-hub", "--round", "1", "--endpoint", fake_hub.url)
    assert pushed.exit_code == 0, pushed.output
    assert json.loads(pushed.stdout)["pushes"][0]["round"] == 1
