"""A TCP proxy on loopback that the tests switch between passing, refusing and black-holing traffic.

It stands between the hub and its database to play the outages a network gives: a server that refuses
connections (``REFUSE``: nothing listens, and every open connection is reset) and a partition
(``BLACK_HOLE``: connections are accepted but nothing crosses in either direction, and open connections
fall silent without being closed). Held bytes are not dropped: when the partition heals they are
delivered, as TCP retransmission would, so a connection nobody gave up on simply resumes. ``cut(seconds)``
is a database restart: refused for that long, then passing again.

``TcpProxy`` runs on the caller's event loop; ``ProxyThread`` runs one on a loop of its own, for
synchronous tests that drive a served hub.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

CHUNK = 64 * 1024
CONTROL_TIMEOUT_SECONDS = 10.0
"""How long a synchronous caller waits for the proxy's loop to carry out a command."""


class Mode(enum.Enum):
    PASS = "pass"
    REFUSE = "refuse"
    BLACK_HOLE = "black-hole"


class TcpProxy:
    """Forwards ``host:port`` (port chosen at start) to ``target_host:target_port``, in the current mode."""

    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = 0
        self.mode = Mode.PASS
        self.accepted = 0
        self.severed = 0  # open connections (either end) reset by REFUSE
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()  # set while bytes may cross
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> TcpProxy:
        await self._listen()
        return self

    async def set_mode(self, mode: Mode) -> None:
        if mode is self.mode:
            return
        self.mode = mode
        if mode is Mode.PASS:
            self._flowing.set()
        else:
            self._flowing.clear()
        if mode is Mode.REFUSE:
            await self._stop_listening()
            self._reset_connections()
        elif self._server is None:
            await self._listen()

    async def cut(self, seconds: float) -> None:
        """An outage of ``seconds``, as a database restart gives; returns when the proxy passes again."""
        await self.set_mode(Mode.REFUSE)
        await asyncio.sleep(seconds)
        await self.set_mode(Mode.PASS)

    async def close(self) -> None:
        await self._stop_listening()
        self._reset_connections()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # An aborted or closed transport closes its socket in a callback the loop runs next: let those run before
        # the thread stops the loop, or a socket outlives the proxy and warns as an unclosed transport.
        for _ in range(3):
            await asyncio.sleep(0)

    async def _listen(self) -> None:
        # The same port every time: the hub's configured URL must keep pointing here across a REFUSE.
        self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop_listening(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()  # new connections are refused from now on

    def _reset_connections(self) -> None:
        self.severed += len(self._writers)
        for writer in list(self._writers):
            writer.transport.abort()  # a reset, as a server that went away gives
        self._writers.clear()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        if task is not None:  # cancelled by close() like the pipes, so that no task outlives the proxy
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # asyncio logs the exception a connection's task ends with, a cancellation included: that is how
        # close() ends it, so it ends quietly.
        with contextlib.suppress(asyncio.CancelledError):
            await self._connect(client_reader, client_writer)

    async def _connect(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.mode is Mode.REFUSE:
            # Accepted just before the listener closed, and handed over after the open connections were
            # reset: refused like them, or it would ride through the outage (and its socket outlive the proxy).
            client_writer.transport.abort()
            return
        self._writers.add(client_writer)
        try:
            await self._flowing.wait()  # in a partition the handshake is accepted, then nothing answers
            if client_writer.is_closing():  # reset while it waited
                raise ConnectionResetError
            upstream_reader, upstream_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except (OSError, asyncio.CancelledError) as error:
            client_writer.transport.abort()  # closed, cancelled by close() or not: no socket left open
            self._writers.discard(client_writer)
            if isinstance(error, asyncio.CancelledError):
                raise
            return
        self._writers.add(upstream_writer)
        self._spawn(self._pipe(upstream_reader, client_writer))
        await self._pipe(client_reader, upstream_writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                await self._flowing.wait()  # held, not dropped, while the partition lasts
                writer.write(data)
                await writer.drain()
        except OSError:
            pass  # the other side went away, or the proxy reset the connection
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()


class ProxyThread:
    """A :class:`TcpProxy` on an event loop in a thread of its own, driven from synchronous code."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._target = (target_host, target_port)
        self._proxy: TcpProxy | None = None

    @property
    def port(self) -> int:
        assert self._proxy is not None
        return self._proxy.port

    @property
    def accepted(self) -> int:
        assert self._proxy is not None
        return self._proxy.accepted

    @property
    def severed(self) -> int:
        assert self._proxy is not None
        return self._proxy.severed

    def set_mode(self, mode: Mode) -> None:
        assert self._proxy is not None
        self._run(self._proxy.set_mode(mode))

    def cut(self, seconds: float) -> concurrent.futures.Future[None]:
        """Starts :meth:`TcpProxy.cut` without waiting for it: the future is done when the proxy passes again."""
        assert self._proxy is not None
        return asyncio.run_coroutine_threadsafe(self._proxy.cut(seconds), self._loop)

    def __enter__(self) -> ProxyThread:
        self._thread.start()
        self._proxy = self._run(self._make())
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._proxy is not None:
                self._run(self._proxy.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CONTROL_TIMEOUT_SECONDS)
            self._loop.close()

    async def _make(self) -> TcpProxy:
        return await TcpProxy(*self._target).start()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CONTROL_TIMEOUT_SECONDS)
