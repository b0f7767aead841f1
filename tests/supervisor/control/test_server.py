"""The control server over a real Unix socket: bad input, limits, permissions, many and slow clients."""

from __future__ import annotations

import json
import os
import random
import socket
import stat
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from anyio.abc import ByteStream

from candlewick.control import protocol as p
from candlewick.control import sockstream
from candlewick.control.client import ControlClient
from candlewick.control.server import ControlServer
from candlewick.control.socketfile import AddressInUse
from candlewick.errors import ConfigError, ControlError
from candlewick.runtime import names
from candlewick.testing.daemon import running_daemon, wait_running
from tests.supervisor.control.conftest import Running, discard, make_daemon

pytestmark = pytest.mark.anyio


class Raw:
    """A bare connection: send lines, read parsed messages (no client library in the way)."""

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self.protocol = p.ClientProtocol()
        self.pending: list[p.Response | p.Notification] = []

    async def send(self, data: bytes) -> None:
        await self.stream.send(data)

    async def read(self, count: int = 1, *, timeout: float = 5) -> list[p.Response | p.Notification]:
        with anyio.fail_after(timeout):
            while len(self.pending) < count:
                self.pending += self.protocol.receive_data(await self.stream.receive())
        out, self.pending = self.pending[:count], self.pending[count:]
        return out

    async def read_until_eof(self, *, timeout: float = 5) -> list[p.Response | p.Notification]:
        out = list(self.pending)
        with anyio.fail_after(timeout):
            while True:
                try:
                    data = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return out
                out += self.protocol.receive_data(data)


async def raw(path: Path) -> Raw:
    return Raw(await sockstream.connect(path))


def error(msg: p.Response | p.Notification) -> p.RpcError:
    assert isinstance(msg, p.Response)
    assert msg.error is not None, msg
    return msg.error


# -- bad input -------------------------------------------------------------------------------


async def test_malformed_and_invalid_requests_are_answered_and_the_connection_kept(running: Running) -> None:
    """Garbage, a batch, a bad id, positional params and an unknown method each get an error; the
    connection keeps serving the next valid request."""
    conn = await raw(running.socket)
    async with conn.stream:
        await conn.send(
            b"{not json\n"
            b"[1, 2]\n"
            b'{"jsonrpc":"2.0","id":{"x":1},"method":"status"}\n'
            b'{"jsonrpc":"2.0","id":5,"method":"status","params":[1]}\n'
            b'{"jsonrpc":"2.0","id":6,"method":"no.such.method"}\n'
            b'{"jsonrpc":"2.0","id":7,"method":"candles.recent","params":{"coin":"BTC","interval":"7m"}}\n'
            b'{"jsonrpc":"2.0","method":"status"}\n'
            b'{"jsonrpc":"2.0","id":8,"method":"hello"}\n'
        )
        answers = await conn.read(7)
    # Answers to bad lines come at once, in order; calls may finish in any order (by id).
    assert [(m.id, error(m).code) for m in answers[:4] if isinstance(m, p.Response)] == [
        (None, p.PARSE_ERROR),
        (None, p.INVALID_REQUEST),
        (None, p.INVALID_REQUEST),
        (5, p.INVALID_PARAMS),
    ]
    by_id = {m.id: m for m in answers[4:] if isinstance(m, p.Response)}
    assert set(by_id) == {6, 7, 8}
    assert error(by_id[6]).code == p.METHOD_NOT_FOUND
    assert error(by_id[7]).code == p.INVALID_PARAMS
    assert "7m" in error(by_id[7]).message
    assert by_id[8].result["protocol"] == p.PROTOCOL_VERSION


async def test_random_garbage_lines_never_break_a_connection(running: Running) -> None:
    """Hundreds of random byte lines (a fixed seed), each answered; the connection still serves."""
    rng = random.Random(20261125)
    alphabet = b'{}[]":,0123456789.-eEtrufalsn \\/abcjsonrpcidmethodparams\x00\xff\xc3'
    lines = [bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 200))).replace(b"\n", b" ") for _ in range(300)]
    lines = [line for line in lines if line.strip()]
    conn = await raw(running.socket)
    async with conn.stream:
        await conn.send(b"\n".join(lines) + b"\n")
        answers = await conn.read(len(lines), timeout=20)
        assert all(isinstance(m, p.Response) and m.error is not None for m in answers)
        assert {m.error.code for m in answers if isinstance(m, p.Response) and m.error} <= set(p.ERROR_NAMES)
        await conn.send(b'{"jsonrpc":"2.0","id":"after","method":"hello"}\n')
        (hello,) = await conn.read(1)
        assert isinstance(hello, p.Response)
        assert hello.id == "after"
        assert hello.result["pid"] == os.getpid()


async def test_oversized_line_is_answered_then_the_connection_closed(running: Running) -> None:
    """More than 1 MiB without a newline: one LINE_TOO_LONG error, then end of stream."""
    conn = await raw(running.socket)
    async with conn.stream:
        chunk = b"a" * 65536
        with anyio.fail_after(10):
            try:
                for _ in range(20):
                    await conn.send(chunk)
            except (anyio.BrokenResourceError, OSError):
                pass  # the server may close before we finish sending
        messages = await conn.read_until_eof()
    assert len(messages) == 1
    assert error(messages[0]).code == p.LINE_TOO_LONG
    assert "1048576" in error(messages[0]).message


async def test_half_closed_client_still_gets_its_answers(running: Running) -> None:
    """A client that sends requests then shuts its write side (``nc -U`` style) is answered."""
    conn = await raw(running.socket)
    async with conn.stream:
        await conn.send(b'{"jsonrpc":"2.0","id":1,"method":"health"}\n{"jsonrpc":"2.0","id":2,"method":"stats"}\n')
        await conn.stream.send_eof()
        messages = await conn.read_until_eof()
    assert sorted(str(m.id) for m in messages if isinstance(m, p.Response)) == ["1", "2"]


async def test_plugin_method_errors_become_internal_errors(running: Running) -> None:
    """Plugin methods are namespaced; an unexpected exception is INTERNAL_ERROR, the server lives on."""
    async with ControlClient.connect(running.socket) as client:
        assert (await client.call("ctltest.ping", {"n": 4}))["pong"] == 4
        with pytest.raises(p.RpcError) as info:
            await client.call("ctltest.explode")
        assert info.value.code == p.INTERNAL_ERROR
        assert "kaboom" in info.value.message
        assert "ctltest.ping" in client.server["methods"]
        assert (await client.call("health"))["status"] == "healthy"


# -- the socket file -------------------------------------------------------------------------


async def test_socket_and_directory_permissions(running: Running, tmp_path: Path) -> None:
    """The socket is 0600; a directory the server creates is 0700."""
    assert stat.S_IMODE(running.socket.stat().st_mode) == 0o600
    nested = running.socket.parent / "made" / "here.sock"
    daemon = make_daemon(tmp_path, nested)
    async with running_daemon(daemon):
        await wait_running(daemon, "control")
        assert stat.S_IMODE(nested.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(nested.stat().st_mode) == 0o600
    assert not nested.exists(), "the socket file is removed at shutdown"


async def test_stale_socket_is_replaced(tmp_path: Path, sock_dir: Path) -> None:
    """A socket file left by a dead daemon (nothing listening, no lock held) is replaced."""
    path = sock_dir / "control.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()
    assert path.exists()
    daemon = make_daemon(tmp_path, path)
    async with running_daemon(daemon):
        await wait_running(daemon, "control")
        async with ControlClient.connect(path) as client:
            assert client.server["pid"] == os.getpid()


async def test_second_daemon_refuses_while_a_live_one_owns_the_socket(running: Running, tmp_path: Path) -> None:
    """Building a second daemon on the same socket fails naming the owner; the first keeps serving."""
    with pytest.raises(AddressInUse, match=rf"pid {os.getpid()}.*{running.socket.name}"):
        make_daemon(tmp_path / "second", running.socket)
    async with ControlClient.connect(running.socket) as client:
        assert (await client.call("status"))["daemon"]["pid"] == os.getpid()


async def test_live_foreign_listener_and_non_socket_files_are_not_removed(tmp_path: Path, sock_dir: Path) -> None:
    """A path some other process listens on, or a regular file, is refused rather than deleted."""
    busy = sock_dir / "busy.sock"
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(busy))
    other.listen(1)
    daemon = make_daemon(tmp_path, busy)
    try:
        with pytest.raises(AddressInUse, match="another process serves"):
            await daemon.components["control"].run()
    finally:
        other.close()
        discard(daemon)
    assert busy.exists()
    plain = sock_dir / "plain.sock"
    plain.write_text("not a socket")
    daemon = make_daemon(tmp_path / "b", plain)
    try:
        with pytest.raises(ControlError, match="not a socket"):
            await daemon.components["control"].run()
    finally:
        discard(daemon)
    assert plain.read_text() == "not a socket"


# -- who may connect -------------------------------------------------------------------------

PEER_SCRIPT = textwrap.dedent(
    """
    import os, socket, sys
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"status"}\\n')
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    print(os.getuid())
    print(data.decode())
    """
)


async def test_a_client_running_as_another_uid_is_refused(running: Running) -> None:
    """SO_PEERCRED: uid nobody is answered UNAUTHORIZED and disconnected, even with the socket
    opened up to everyone on the file system."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to another uid")  # the CI runs as root
    os.chmod(running.socket.parent, 0o711)
    os.chmod(running.socket, 0o666)
    result = await anyio.run_process(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            sys.executable,
            "-c",
            PEER_SCRIPT,
            str(running.socket),
        ],
        check=False,
    )
    out = result.stdout.decode().splitlines()
    assert result.returncode == 0, result.stderr.decode()
    assert out[0] == "65534"
    answer = json.loads(out[1])
    assert answer["error"]["code"] == p.UNAUTHORIZED
    assert "uid 65534" in answer["error"]["message"]
    # The daemon's own user still gets in.
    async with ControlClient.connect(running.socket) as client:
        assert (await client.call("status"))["daemon"]["pid"] == os.getpid()


async def test_tcp_listener_needs_the_token(tmp_path: Path, sock_dir: Path) -> None:
    """The optional loopback TCP listener serves only clients whose hello carries the token."""
    token = sock_dir / "token"
    token.write_text("s3cret-token-0123456789\n")
    daemon = make_daemon(
        tmp_path,
        sock_dir / "c.sock",
        control={"socket": str(sock_dir / "c.sock"), "tcp_listen": "127.0.0.1:0", "token_file": str(token)},
    )
    server = daemon.components["control"]
    assert isinstance(server, ControlServer)
    async with running_daemon(daemon):
        await wait_running(daemon, "control")
        assert server.tcp_port is not None
        async with ControlClient.connect_tcp("127.0.0.1", server.tcp_port, token="s3cret-token-0123456789") as client:
            assert (await client.call("status"))["daemon"]["pid"] == os.getpid()
        with pytest.raises(p.RpcError) as info:
            async with ControlClient.connect_tcp("127.0.0.1", server.tcp_port, token="wrong"):
                pass
        assert info.value.code == p.UNAUTHORIZED
        stream = await anyio.connect_tcp("127.0.0.1", server.tcp_port)
        async with stream:
            conn = Raw(stream)
            await conn.send(b'{"jsonrpc":"2.0","id":1,"method":"status"}\n')
            (msg,) = await conn.read_until_eof()
            assert error(msg).code == p.UNAUTHORIZED


def test_socket_directory_owned_by_someone_else_is_refused(tmp_path: Path, sock_dir: Path) -> None:
    """A pre-created directory of another user (e.g. in /tmp) is not trusted with the socket."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory away")  # the CI runs as root
    foreign = sock_dir / "theirs"
    foreign.mkdir()
    os.chown(foreign, 65534, 65534)
    with pytest.raises(ControlError, match="belongs to uid 65534"):
        make_daemon(tmp_path, foreign / "control.sock")


def test_overlong_socket_path_is_a_clear_error_at_start(tmp_path: Path, sock_dir: Path) -> None:
    """A path past the 107-byte limit of Unix sockets fails when the daemon is built, naming it."""
    deep = sock_dir / ("d" * 120) / "control.sock"
    with pytest.raises(ControlError, match=r"107.*shorter path"):
        make_daemon(tmp_path, deep)


def test_tcp_listener_must_be_loopback_and_have_a_token(tmp_path: Path, sock_dir: Path) -> None:
    with pytest.raises(ConfigError, match="not a loopback"):
        make_daemon(
            tmp_path,
            sock_dir / "a.sock",
            control={"socket": str(sock_dir / "a.sock"), "tcp_listen": "0.0.0.0:9", "token_file": "/x"},
        )
    with pytest.raises(ConfigError, match="token_file"):
        make_daemon(
            tmp_path, sock_dir / "b.sock", control={"socket": str(sock_dir / "b.sock"), "tcp_listen": "127.0.0.1:9"}
        )


# -- many and slow clients -------------------------------------------------------------------


async def test_200_concurrent_clients(running: Running) -> None:
    """200 clients connected at once each get their status answered."""
    connected = 0
    all_in = anyio.Event()
    peak = 0
    answers: list[int] = []

    async def one() -> None:
        nonlocal connected, peak
        async with ControlClient.connect(running.socket, timeout=20) as client:
            connected += 1
            if connected == 200:
                all_in.set()
            await all_in.wait()
            peak = max(peak, len(running.server.sessions))
            answers.append((await client.call("status", timeout=20))["daemon"]["pid"])

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for _ in range(200):
                tg.start_soon(one)
    assert answers == [os.getpid()] * 200
    assert peak >= 200


async def test_a_client_that_never_reads_does_not_block_the_daemon(running: Running) -> None:
    """A subscriber that stops reading loses notifications (counted, then reported to it); the
    daemon keeps publishing and other clients keep being served."""
    running.server.max_notifications = 8
    conn = await raw(running.socket)
    async with conn.stream:
        await conn.send(b'{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topics":["events"]}}\n')
        (ack,) = await conn.read(1)
        assert isinstance(ack, p.Response)
        assert ack.result == {"topics": ["events"]}
        (session,) = [s for s in running.server.sessions if "events" in s.topics]
        payload = "x" * 2000
        with anyio.fail_after(10):
            for i in range(3000):
                running.daemon.telemetry.publish("test", "bench", f"event {i}", blob=payload)
                if i % 20 == 0:
                    await anyio.sleep(0)  # let the forwarder run, as a real producer would
            async with ControlClient.connect(running.socket) as other:
                assert (await other.call("status"))["daemon"]["pid"] == os.getpid()
        assert session.outbox.dropped > 0
        assert len(session.outbox._notes) <= 8
        counted = running.daemon.telemetry.metrics.value(names.CONTROL_DROPPED)
        assert counted >= session.outbox.dropped
        # When it reads again, it is told how many it lost.
        seen: list[p.Notification] = []
        with anyio.fail_after(10):
            while not any(n.method == "dropped" for n in seen):
                seen += [m for m in await conn.read(1) if isinstance(m, p.Notification)]
        report = next(n for n in seen if n.method == "dropped")
        assert report.params["count"] > 0
        assert report.params["total"] >= report.params["count"]


async def test_busy_when_too_many_clients(running: Running) -> None:
    running.server.max_clients = 1
    async with ControlClient.connect(running.socket) as first:
        with pytest.raises(p.RpcError) as info:
            async with ControlClient.connect(running.socket):
                pass
        assert info.value.code == p.BUSY
        assert (await first.call("health"))["status"] == "healthy"


async def test_daemon_unreachable_names_the_socket(sock_dir: Path) -> None:
    from candlewick.errors import DaemonUnreachable

    missing = sock_dir / "none.sock"
    with pytest.raises(DaemonUnreachable, match=str(missing)) as info:
        async with ControlClient.connect(missing):
            pass
    assert "candlewick run" in str(info.value)
