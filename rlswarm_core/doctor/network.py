"""Network checks: local DHT ports free, chain RPC answering, bootstrap peers reachable.

Only sockets and httpx are used: a node's own stack (hivemind, web3) is too slow to import for a
health check, and a raw TCP connect or one JSON-RPC call answers the question just as well.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rlswarm_core.doctor.result import ERROR, OK, WARNING, CheckResult

PORTS_CHECKED = 3
_DNS_PROTOCOLS = ("dns", "dns4", "dns6")
# /dnsaddr names a DNS TXT record that lists the real addresses: valid, but not a TCP endpoint to dial.
_UNDIALLED_PROTOCOLS = ("dnsaddr",)


def _listener_of(port: int) -> dict[str, Any] | None:
    """The process listening on a local TCP ``port``, when the OS lets us see it."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                proc = psutil.Process(conn.pid)
                return {"pid": conn.pid, "name": proc.name()}
    except Exception:
        return None
    return None


def _bind_error(host: str, port: int) -> OSError | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # The daemon itself binds with SO_REUSEADDR, so connections lingering in TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError as exc:
            return exc
    return None


def check_ports(host: str, first_port: int, count: int = PORTS_CHECKED) -> CheckResult:
    """Can a node bind ``first_port`` (and the next ports extra nodes on this machine would use)?"""
    ports = [p for p in range(first_port, first_port + count) if p <= 65535]
    busy: list[dict[str, Any]] = []
    for port in ports:
        exc = _bind_error(host, port)
        if exc is None:
            continue
        entry: dict[str, Any] = {"port": port, "error": exc.strerror or str(exc)}
        if exc.errno == errno.EADDRINUSE:
            entry["process"] = _listener_of(port)
        busy.append(entry)
    details: dict[str, Any] = {"host": host, "ports": ports, "busy": busy}
    if not busy:
        shown = ", ".join(str(p) for p in ports)
        return CheckResult("dht-ports", OK, f"TCP {shown} free on {host}", "", details)
    summary = "; ".join(_describe_busy(entry) for entry in busy)
    first = busy[0]
    if first["port"] == first_port:
        owner = first.get("process")
        fix = (
            f"stop pid {owner['pid']} ({owner['name']})"
            if owner
            else f"find the owner: ss -ltnp 'sport = :{first_port}'"
        )
        fix += f", or move this node: rlswarm config set dht_port {ports[-1] + 1}"
    else:
        fix = "every node on this machine needs its own dht_port; give extra nodes free ones"
    return CheckResult("dht-ports", WARNING, summary, fix, details)


def _describe_busy(entry: dict[str, Any]) -> str:
    if "process" not in entry:
        return f"TCP {entry['port']}: {entry['error']}"
    owner = entry["process"]
    who = f" by {owner['name']} (pid {owner['pid']})" if owner else ""
    return f"TCP {entry['port']} in use{who}"


# --- chain RPC -------------------------------------------------------------------------------------


def check_rpc(rpc_url: str | None, timeout: float = 3.0) -> CheckResult:
    """One ``eth_chainId`` JSON-RPC call to the configured endpoint."""
    if not rpc_url:
        return CheckResult(
            "chain-rpc", OK, "no chain RPC configured (local swarm)", "", {"configured": False}
        )
    import httpx

    shown = _safe_url(rpc_url)
    details: dict[str, Any] = {"configured": True, "url": shown}
    fix = "check the rpc_url setting (rlswarm config show) and that the node or provider is up"
    payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    try:
        response = httpx.post(rpc_url, json=payload, timeout=timeout)
    except httpx.TimeoutException:
        return CheckResult("chain-rpc", ERROR, f"{shown} did not answer within {timeout:g} s", fix, details)
    except (httpx.HTTPError, ValueError) as exc:
        reason = _reason(exc).replace(rpc_url, shown)
        return CheckResult("chain-rpc", ERROR, f"cannot reach {shown}: {reason}", fix, details)
    details["http_status"] = response.status_code
    if response.status_code != 200:
        return CheckResult("chain-rpc", ERROR, f"{shown} answered HTTP {response.status_code}", fix, details)
    try:
        body = response.json()
    except ValueError:
        body = None
    result = body.get("result") if isinstance(body, dict) else None
    try:
        chain_id = int(result, 16) if isinstance(result, str) else None
    except ValueError:
        chain_id = None
    if chain_id is None:
        error = body.get("error") if isinstance(body, dict) else None
        what = (
            f"JSON-RPC error: {error.get('message', error)}"
            if isinstance(error, dict)
            else "not a JSON-RPC answer"
        )
        return CheckResult("chain-rpc", ERROR, f"{shown}: {what}", fix, details)
    details["chain_id"] = chain_id
    return CheckResult("chain-rpc", OK, f"{shown} answers, chain id {chain_id}", "", details)


def _safe_url(url: str) -> str:
    """Providers put API keys in the path or query: show only scheme, host and port."""
    try:
        import httpx

        parsed = httpx.URL(url)
        port = f":{parsed.port}" if parsed.port else ""
        hidden = "/…" if (parsed.path not in ("", "/") or parsed.query) else ""
        return f"{parsed.scheme}://{parsed.host}{port}{hidden}"
    except Exception:
        return "the configured URL"


def _reason(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- bootstrap peers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TcpTarget:
    host: str
    port: int


def parse_multiaddr(maddr: str) -> TcpTarget | None:
    """The TCP endpoint of ``/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT[/p2p/ID...]``.

    None for a valid address that cannot be dialled directly (``/dnsaddr``); ValueError says what is
    wrong with a malformed one.
    """
    parts = maddr.strip().split("/")
    if len(parts) >= 3 and parts[0] == "" and parts[1] in _UNDIALLED_PROTOCOLS and parts[2]:
        return None
    if len(parts) < 5 or parts[0] != "":
        raise ValueError("expected /ip4/HOST/tcp/PORT/p2p/PEER_ID")
    proto, host, transport, port_text = parts[1:5]
    if proto == "ip4":
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv4 address") from None
    elif proto == "ip6":
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    elif proto in _DNS_PROTOCOLS:
        if not host or any(c.isspace() for c in host):
            raise ValueError(f"{host!r} is not a host name")
    else:
        raise ValueError(f"unsupported protocol {proto!r} (use ip4, ip6 or dns)")
    if transport != "tcp":
        raise ValueError(f"transport {transport!r} is not tcp")
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise ValueError(f"{port_text!r} is not a TCP port")
    rest = parts[5:]
    if rest and (rest[0] not in ("p2p", "ipfs") or len(rest) < 2 or not rest[1]):
        raise ValueError(f"expected /p2p/PEER_ID after the port, not /{'/'.join(rest)}")
    return TcpTarget(host=host, port=int(port_text))


def _connect(target: TcpTarget, timeout: float) -> str | None:
    """None when a TCP connection opens, else the reason it did not."""
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except socket.gaierror as exc:
        return f"cannot resolve {target.host}: {exc.strerror}"
    except OSError as exc:
        return exc.strerror or str(exc)


def check_bootstrap(initial_peers: list[str], timeout: float = 3.0) -> CheckResult:
    if not initial_peers:
        return CheckResult(
            "bootstrap-peers",
            OK,
            "no bootstrap peers configured (this node starts a swarm)",
            "",
            {"peers": []},
        )
    rows: list[dict[str, Any]] = []
    targets: dict[int, TcpTarget] = {}
    for i, maddr in enumerate(initial_peers):
        row: dict[str, Any] = {"maddr": maddr, "reachable": None, "malformed": False}
        try:
            target = parse_multiaddr(maddr)
        except ValueError as exc:
            row.update(malformed=True, error=str(exc))
        else:
            if target is None:
                row["error"] = "not checked: a /dnsaddr address is resolved by the daemon"
            else:
                targets[i] = target
        rows.append(row)
    if targets:
        with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
            reasons = dict(
                zip(targets, pool.map(lambda t: _connect(t, timeout), targets.values()), strict=True)
            )
        for i, reason in reasons.items():
            rows[i]["reachable"] = reason is None
            if reason:
                rows[i]["error"] = reason
    details = {"peers": rows}
    malformed = [r for r in rows if r["malformed"]]
    down = [r for r in rows if r["reachable"] is False]
    up = [r for r in rows if r["reachable"]]
    if malformed:
        first = malformed[0]
        return CheckResult(
            "bootstrap-peers",
            ERROR,
            f"{first['maddr']!r} is malformed: {first['error']}",
            "fix initial_peers (rlswarm config set initial_peers /ip4/HOST/tcp/PORT/p2p/PEER_ID)",
            details,
        )
    if down:
        first = down[0]
        # One peer that answers (or may answer) is enough to join; none at all is fatal.
        status = WARNING if len(down) < len(rows) else ERROR
        return CheckResult(
            "bootstrap-peers",
            status,
            f"{len(down)} of {len(rows)} unreachable; {first['maddr']}: {first['error']}",
            "check the address and that the peer is running; a firewall may block outgoing TCP",
            details,
        )
    unchecked = len(rows) - len(up)
    extra = f" ({unchecked} not checked)" if unchecked else ""
    return CheckResult("bootstrap-peers", OK, f"{len(up)} of {len(rows)} reachable{extra}", "", details)
