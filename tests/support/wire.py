"""One raw request on its own TCP connection, and a strict account of what came back.

For the fuzzers (``tests/security/test_fuzz_raw.py``): the request is sent as the bytes it
is, and the answer is parsed by h11 (the strict HTTP/1.1 parser httpx's own stack uses), so
an answer that is not well-formed HTTP is seen as such. What happened is one of:

``answer``  a whole, well-formed HTTP response (its status may still be anything);
``closed``  the server closed the connection cleanly without answering;
``cut``     the server closed the connection in the middle of an answer;
``reset``   the connection was reset (RST), before or in the middle of an answer;
``timeout`` nothing (or not all of an answer) came within the time allowed: a hang;
``http09``  bytes without a status line, then the close: an HTTP/0.9 answer (nginx answers
            a request line without a version so);
``garbage`` bytes came back that are not an HTTP response.

After an answer that keeps the connection open, a ``probe`` request can be sent on the same
connection: a server that drops a connection it said it would keep (no ``Connection:
close``) hands the next request on it a reset, which is what a neighbour behind nginx sees.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

import h11

READ_SIZE = 65536
MAX_BODY = 64 * 1024 * 1024  # more than any answer a fuzz case can get
PROBE = b"GET /_status/ping HTTP/1.1\r\nHost: proxy.test\r\n\r\n"


@dataclass(frozen=True)
class Exchange:
    kind: str  # answer, closed, cut, reset, timeout, http09, garbage
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    detail: str = ""
    # After an answer on a connection kept open: the probe's own Exchange (None: not tried).
    probe: Exchange | None = None

    def describe(self) -> str:
        status = f" {self.status}" if self.status is not None else ""
        probe = f"; probe: {self.probe.describe()}" if self.probe is not None else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.kind}{status}{detail}{probe}"


def _sent_request(head: bool) -> h11.Request:
    """What h11 is told we sent: only HEAD (an answer without a body) changes how it reads."""
    return h11.Request(method="HEAD" if head else "GET", target="/", headers=[("Host", "x")])


class _Reader:
    """Reads one answer at a time from ``sock`` with h11, within a deadline."""

    def __init__(self, sock: socket.socket, head: bool) -> None:
        self.sock = sock
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=1024 * 1024)
        self.received = bytearray()  # the first bytes of the answer being read, as they came
        self.conn.send(_sent_request(head))
        self.conn.send(h11.EndOfMessage())

    def next_cycle(self, head: bool) -> None:
        self.conn.start_next_cycle()
        self.conn.send(_sent_request(head))
        self.conn.send(h11.EndOfMessage())

    def answer(self, timeout: float) -> Exchange:
        deadline = time.monotonic() + timeout
        status: int | None = None
        headers: dict[str, str] = {}
        body = bytearray()
        self.received.clear()
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                if status is None and not self.received:
                    return Exchange("closed")  # h11's word for a close before any answer
                http09 = status is None and not self.received.startswith(b"HTTP/")
                if http09 and self._read_to_close(deadline):
                    # No status line, then the close: how an HTTP/0.9 request is answered.
                    return Exchange("http09", body=bytes(self.received[:200]))
                if status is not None and self.conn.trailing_data[1]:
                    return Exchange("cut", status, headers, bytes(body[:200]), str(exc))
                return Exchange("garbage", status, headers, bytes(body[:200]), str(exc))
            if event is h11.NEED_DATA:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return Exchange("timeout", status, headers, bytes(body[:200]))
                self.sock.settimeout(remaining)
                try:
                    data = self.sock.recv(READ_SIZE)
                except TimeoutError:
                    return Exchange("timeout", status, headers, bytes(body[:200]))
                except ConnectionResetError:
                    return Exchange("reset", status, headers, bytes(body[:200]))
                if len(self.received) < READ_SIZE:
                    self.received += data
                self.conn.receive_data(data)
                continue
            if isinstance(event, h11.InformationalResponse):  # 100 Continue: the answer is next
                self.received = bytearray(self.conn.trailing_data[0])
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
            elif isinstance(event, h11.Data):
                if len(body) < MAX_BODY:
                    body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return Exchange("answer", status, headers, bytes(body))
            elif isinstance(event, h11.ConnectionClosed):
                return Exchange("closed" if status is None else "cut", status, headers)

    def _read_to_close(self, deadline: float) -> bool:
        """Read until the server closes; False if it does not before ``deadline``."""
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                if not self.sock.recv(READ_SIZE):
                    return True
            except TimeoutError:
                return False
            except ConnectionResetError:
                return True
        return False

    @property
    def kept_open(self) -> bool:
        return self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE


def exchange(
    address: tuple[str, int],
    data: bytes,
    *,
    head: bool = False,
    finish: bool = False,
    probe: bool = False,
    timeout: float = 20.0,
) -> Exchange:
    """Send ``data`` on a new connection and read the answer.

    ``finish``: half-close the connection after sending (the request is incomplete on
    purpose, so the server sees the end of it at once instead of waiting for more).
    ``probe``: when the answer leaves the connection open, send ``PROBE`` on it too."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.sendall(data)
            if finish:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server stopped reading (an early answer, a refusal): read what it said
        reader = _Reader(sock, head)
        first = reader.answer(timeout)
        if first.kind != "answer" or not probe or finish or not reader.kept_open:
            return first
        reader.next_cycle(head=False)
        try:
            sock.sendall(PROBE)
        except (BrokenPipeError, ConnectionResetError):
            return _with_probe(first, Exchange("reset", detail="probe could not be sent"))
        return _with_probe(first, reader.answer(timeout))


def _with_probe(first: Exchange, probe: Exchange) -> Exchange:
    return Exchange(first.kind, first.status, first.headers, first.body, first.detail, probe)
