#!/usr/bin/env python3
"""A TCP proxy for fault tests: forwards every connection on a loopback port to a target,
and stalls on request, as a hung broker or a network partition would look to a client.

    stall_proxy.py TARGET_HOST:TARGET_PORT [LISTEN_PORT]

Prints PROXY_PORT=N once it listens (0 or no LISTEN_PORT picks a free port).
SIGUSR1 stalls: nothing more is read from or written to any connection, and new
connections are accepted but not connected onwards, so both sides see silence (no reset,
no close). SIGUSR2 resumes: everything held flows on, in order. SIGTERM ends it.
Each transition is printed (STALLED / FLOWING) once it has taken effect.
"""
import select
import signal
import socket
import sys
import threading

flowing = threading.Event()
flowing.set()


def pump(source, destination):
    """Copies source to destination until either side closes; waits while stalled."""
    try:
        while True:
            flowing.wait()
            readable, _, _ = select.select([source], [], [], 0.05)
            if not readable:
                continue
            if not flowing.is_set():
                continue  # stalled between select and recv: leave the bytes in the kernel
            data = source.recv(65536)
            if not data:
                break
            while not flowing.is_set():
                flowing.wait(0.05)
            destination.sendall(data)
    except OSError:
        pass
    finally:
        for side in (source, destination):
            try:
                side.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client, target):
    flowing.wait()
    try:
        upstream = socket.create_connection(target)
    except OSError:
        client.close()
        return
    for side in (client, upstream):
        side.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    target = (host, int(port))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0))
    listener.listen(128)

    def stall(*_):
        flowing.clear()
        print("STALLED", flush=True)

    def resume(*_):
        flowing.set()
        print("FLOWING", flush=True)

    # A parent may have blocked these (a test runner's threads do): take them back.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM})
    signal.signal(signal.SIGUSR1, stall)
    signal.signal(signal.SIGUSR2, resume)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"PROXY_PORT={listener.getsockname()[1]}", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, target), daemon=True).start()


if __name__ == "__main__":
    main()
