#!/usr/bin/env python3
"""A TCP forwarder on 127.0.0.1 that can turn into a blackhole.

    blackhole_proxy.py <listen-port-file> <upstream-host> <upstream-port>

Listens on a free 127.0.0.1 port (written to <listen-port-file> once
listening) and forwards every connection to the upstream. On SIGUSR1 it stops
forwarding in both directions and keeps every connection open, old and new:
what the client sees is a server that accepts connections and never answers
(a partitioned or overloaded API server), not one that refuses them. SIGTERM
ends it.
"""
import select
import signal
import socket
import sys
import threading

blackhole = threading.Event()


def pump(a, b):
    """Copies bytes a <-> b until either side closes; drops them once blackholed."""
    sockets = [a, b]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 0.2)
            for s in readable:
                data = s.recv(65536)
                if not data:
                    return
                if not blackhole.is_set():
                    (b if s is a else a).sendall(data)
    except OSError:
        pass
    finally:
        a.close()
        b.close()


def hold(client):
    """A connection accepted while blackholed: read and drop, never answer."""
    try:
        while client.recv(65536):
            pass
    except OSError:
        pass
    finally:
        client.close()


def main():
    port_file, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    signal.signal(signal.SIGUSR1, lambda *_: blackhole.set())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    with open(port_file, "w") as f:
        f.write(str(listener.getsockname()[1]))
    while True:
        client, _ = listener.accept()
        if blackhole.is_set():
            threading.Thread(target=hold, args=(client,), daemon=True).start()
            continue
        try:
            upstream = socket.create_connection((host, port), timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()


if __name__ == "__main__":
    main()
