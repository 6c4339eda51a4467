"""Service files that run an instance's supervisor (or a hosted swarm's server, ``swarm serve``) at
login: a systemd user unit or a launchd agent."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from rlswarm_core.errors import RlswarmError
from rlswarm_core.instances.registry import load
from rlswarm_core.system.paths import HOME_ENV, app_paths

LAUNCHD_LABEL = "org.rlswarm.instance.{name}"
SWARM_LAUNCHD_LABEL = "org.rlswarm.swarm.{name}"


@dataclass(frozen=True)
class ServiceFile:
    path: Path
    text: str
    enable: list[str]


def _command(name: str) -> list[str]:
    return [sys.executable, "-m", "rlswarm_core.instances.supervise", name]


def _environment() -> dict[str, str]:
    env = {"PYTHONUNBUFFERED": "1"}
    if os.environ.get(HOME_ENV):
        env[HOME_ENV] = os.environ[HOME_ENV]
    return env


def _systemd_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "/._-=:" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serve_command(swarm_file: Path) -> list[str]:
    return [sys.executable, "-m", "rlswarm_core.hosting", "serve", str(swarm_file.resolve())]


def systemd_unit(name: str, home: Path | None = None) -> ServiceFile:
    return _systemd(f"rlswarm-{name}", f"rlswarm instance {name}", _command(name), home)


def _systemd(stem: str, description: str, command: list[str], home: Path | None) -> ServiceFile:
    home = home or Path.home()
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    path = config / "systemd" / "user" / f"{stem}.service"
    env_lines = "".join(f"Environment={_systemd_quote(f'{k}={v}')}\n" for k, v in _environment().items())
    text = (
        "[Unit]\n"
        f"Description={description}\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={' '.join(_systemd_quote(a) for a in command)}\n"
        f"{env_lines}"
        "Restart=on-failure\n"
        "RestartSec=10\n"
        # the supervisor (or server) stops its node(s) itself on SIGTERM; give it time to finish
        "KillMode=mixed\n"
        "TimeoutStopSec=60\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )
    unit = path.name
    enable = [
        "systemctl --user daemon-reload",
        f"systemctl --user enable --now {unit}",
        "loginctl enable-linger $USER  # keep it running after you log out",
    ]
    return ServiceFile(path=path, text=text, enable=enable)


def launchd_plist(name: str, home: Path | None = None) -> ServiceFile:
    return _launchd(LAUNCHD_LABEL.format(name=name), _command(name), f"{name}.service.log", home)


def _launchd(label: str, command: list[str], log_name: str, home: Path | None) -> ServiceFile:
    home = home or Path.home()
    path = home / "Library" / "LaunchAgents" / f"{label}.plist"
    args = "".join(f"    <string>{escape(a)}</string>\n" for a in command)
    env = "".join(
        f"    <key>{escape(k)}</key>\n    <string>{escape(v)}</string>\n" for k, v in _environment().items()
    )
    log = escape(str(app_paths().logs / log_name))
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
        '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
        '<plist version="1.0">\n<dict>\n'
        f"  <key>Label</key>\n  <string>{escape(label)}</string>\n"
        f"  <key>ProgramArguments</key>\n  <array>\n{args}  </array>\n"
        f"  <key>EnvironmentVariables</key>\n  <dict>\n{env}  </dict>\n"
        "  <key>RunAtLoad</key>\n  <true/>\n"
        "  <key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n"
        "  <key>ExitTimeOut</key>\n  <integer>60</integer>\n"
        f"  <key>StandardOutPath</key>\n  <string>{log}</string>\n"
        f"  <key>StandardErrorPath</key>\n  <string>{log}</string>\n"
        "</dict>\n</plist>\n"
    )
    enable = [f"launchctl bootstrap gui/$(id -u) {path}", f"launchctl kickstart gui/$(id -u)/{label}"]
    return ServiceFile(path=path, text=text, enable=enable)


def service_file(name: str, platform: str | None = None, home: Path | None = None) -> ServiceFile:
    platform = platform or sys.platform
    load(name)  # the instance must exist
    if platform.startswith("linux"):
        return systemd_unit(name, home)
    if platform == "darwin":
        return launchd_plist(name, home)
    raise RlswarmError(
        f"no service manager support on {platform}", "run 'rlswarm instances start' from a terminal instead"
    )


def install(name: str, platform: str | None = None, home: Path | None = None) -> ServiceFile:
    service = service_file(name, platform, home)
    service.path.parent.mkdir(parents=True, exist_ok=True)
    service.path.write_text(service.text, encoding="utf-8")
    return service


def swarm_service(
    swarm_name: str, swarm_file: Path, platform: str | None = None, home: Path | None = None
) -> ServiceFile:
    """The service that runs ``rlswarm swarm serve FILE`` (the swarm's bootnodes and stage manager).

    The wallet key stays in the keyring (never in the unit): the service reads it there at start.
    """
    platform = platform or sys.platform
    command = _serve_command(swarm_file)
    if platform.startswith("linux"):
        return _systemd(
            f"rlswarm-swarm-{swarm_name}", f"rlswarm swarm {swarm_name} (swarm serve)", command, home
        )
    if platform == "darwin":
        label = SWARM_LAUNCHD_LABEL.format(name=swarm_name)
        return _launchd(label, command, f"swarm-{swarm_name}.service.log", home)
    raise RlswarmError(
        f"no service manager support on {platform}", "run 'rlswarm swarm serve' from a terminal instead"
    )


def install_swarm(
    swarm_name: str, swarm_file: Path, platform: str | None = None, home: Path | None = None
) -> ServiceFile:
    service = swarm_service(swarm_name, swarm_file, platform, home)
    service.path.parent.mkdir(parents=True, exist_ok=True)
    service.path.write_text(service.text, encoding="utf-8")
    return service
