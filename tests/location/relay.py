"""A userspace delay relay: distance for tests on a kernel without netem.

A TCP forwarder that holds every chunk it reads for a fixed one-way delay before
writing it on, in both directions, preserving order.  Put one between an agent and
a landmark and the landmark sees the round trip of a host 2·delay·c/2 farther away.
It can only ever ADD delay, which is exactly the power a real adversary has.

Runs in-process (`DelayRelay`) or as a process inside a network namespace:
    python -m tests.location.relay --listen IP:PORT --upstream IP:PORT --delay-ms 0.2
"""
from __future__ import annotations

import argparse
import queue
import socket
import sys
import threading
import time


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


class DelayRelay:
    def __init__(self, *, listen: tuple[str, int], upstream: tuple[str, int], one_way_delay_s: float):
        self.upstream, self.delay = upstream, one_way_delay_s
        self._server = socket.create_server(listen)
        self.address = self._server.getsockname()[:2]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept_forever, daemon=True).start()

    def _accept_forever(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._sockets.append(sock)
            self._pipe(client, upstream)
            self._pipe(upstream, client)

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        held: queue.Queue = queue.Queue()

        def read() -> None:
            while True:
                try:
                    chunk = source.recv(65536)
                except OSError:
                    chunk = b""
                held.put((time.monotonic() + self.delay, chunk))
                if not chunk:
                    return

        def write() -> None:
            while True:
                due, chunk = held.get()
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                try:
                    if not chunk:
                        target.shutdown(socket.SHUT_WR)
                        return
                    target.sendall(chunk)
                except OSError:
                    return

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=write, daemon=True).start()

    def close(self) -> None:
        self._server.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=_address, required=True)
    parser.add_argument("--upstream", type=_address, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    args = parser.parse_args()
    relay = DelayRelay(listen=args.listen, upstream=args.upstream, one_way_delay_s=args.delay_ms / 1000)
    print(f"{relay.address[0]}:{relay.address[1]}", flush=True)
    sys.stdin.read()  # runs until the parent closes our stdin


if __name__ == "__main__":
    main()
