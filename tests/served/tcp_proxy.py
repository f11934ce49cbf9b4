"""A TCP forwarder on loopback that a test can cut, to give the served hub a database outage.

It runs its own event loop in a thread: the served hub's start-up blocks the test's thread (it polls
``/readyz`` synchronously) while the hub already talks to its database through the proxy. Every
connection it accepts is owned by a task it keeps, and closed by that task whatever happens, so that no
socket outlives the test (a leaked one fails the run: warnings are errors).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

CHUNK = 65536
CONTROL_TIMEOUT_SECONDS = 10.0


class TcpProxy:
    """Forwards connections from a loopback port to ``target``. ``cut(seconds)`` is an outage, as a
    database restart gives: the open connections are reset, and for that long new ones are reset as soon
    as they arrive."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.is_cut = False
        self.severed = 0  # open connections reset by cuts
        self.refused = 0  # connections reset on arrival during cuts
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    def start(self) -> TcpProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(CONTROL_TIMEOUT_SECONDS)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        # Python 3.11's streams keep no reference to this task: keep one, or it may be collected with
        # its socket still open while it waits.
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        writers = {client_writer}
        try:
            if self.is_cut:
                self.refused += 1
                return
            _server_reader, server_writer = await asyncio.open_connection(self.target_host, self.target_port)
            writers.add(server_writer)
            self._open |= writers
            await asyncio.gather(_pipe(client_reader, server_writer), _pipe(_server_reader, client_writer))
        except OSError:
            pass  # the database refused: the client sees its connection reset
        finally:
            self._open -= writers
            for writer in writers:
                writer.transport.abort()
            self._handlers.discard(task)

    async def _cut(self, seconds: float) -> None:
        self.is_cut = True
        for writer in list(self._open):
            self.severed += 1
            writer.transport.abort()
        await asyncio.sleep(seconds)
        self.is_cut = False

    def cut(self, seconds: float) -> concurrent.futures.Future[None]:
        """Starts an outage of ``seconds``; the future is done when the proxy forwards again."""
        return asyncio.run_coroutine_threadsafe(self._cut(seconds), self._loop)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        # Let every connection's task see its reset and close its sockets; none is left pending.
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=CONTROL_TIMEOUT_SECONDS)

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(CONTROL_TIMEOUT_SECONDS * 2)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CONTROL_TIMEOUT_SECONDS)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # One direction of a connection; when either side goes away, so does the other.
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.transport.abort()
