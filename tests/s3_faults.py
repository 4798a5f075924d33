"""A faulty S3 in front of moto's server, for the storage-fault tests: an HTTP proxy on loopback that forwards
each request to moto, except that, drawn from a seeded generator, some get a 500 InternalError, a 503
SlowDown (S3's throttling answer), or the connection dropped halfway through the request's body (an
upload cut off; every 7th upload too). ``faults["rate"]`` can be changed while it runs (0: a healthy store,
1: every request fails)."""
import contextlib
import http.client
import random
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

ERRORS = [(500, "InternalError", "We encountered an internal error. Please try again."),
          (503, "SlowDown", "Please reduce your request rate.")]


@contextlib.contextmanager
def faulty(uri: str, rate: float, seed: int = 0):
    """Yields (the results URI through the proxy, its fault settings, a counter of the faults injected)."""
    base, _, query = uri.partition("?")
    q = dict(parse_qsl(query))
    host, port = q["endpoint_override"].split(":")
    faults = {"rate": rate, "rng": random.Random(seed), "lock": threading.Lock()}
    counts = {"requests": 0, "uploads": 0, "500": 0, "503": 0, "dropped": 0}

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _body(self) -> bytes:
            """The request's body, whole: by Content-Length, or chunk by chunk (the AWS SDK streams uploads)."""
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if not size:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _forward(self):
            n = int(self.headers.get("Content-Length") or 0)
            chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
            with faults["lock"]:
                counts["requests"] += 1
                counts["uploads"] += bool(n or chunked)
                roll, pick = faults["rng"].random(), faults["rng"].random()
                # Every 7th upload of a faulty store is cut off (threads draw in any order: this one is certain).
                cut = faults["rate"] > 0 and (n or chunked) and counts["uploads"] % 7 == 3
            if cut or roll < faults["rate"]:
                if cut or (pick < 0.33 and (n > 0 or chunked)):  # an upload cut off: part of its body read, gone
                    self.rfile.read(max(1, n // 2)) if n else self.rfile.readline()
                    counts["dropped"] += 1
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, code, message = ERRORS[int(pick * 2) % 2]
                self._body()
                counts[str(status)] += 1
                body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}" \
                       f"</Message></Error>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            body = self._body() if n or chunked else None
            skip = ("connection", "expect", "transfer-encoding", "content-length")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            if body is not None:
                headers["Content-Length"] = str(len(body))
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            conn.request(self.command, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            self.send_response(r.status, r.reason)
            for k, v in r.getheaders():
                if k.lower() not in ("connection", "transfer-encoding", "content-length", "date", "server"):
                    self.send_header(k, v)
            # A HEAD answer has no body: its Content-Length is the object's size, passed on as it came.
            self.send_header("Content-Length", r.getheader("Content-Length", "0") if self.command == "HEAD"
                             else str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # a connection it dropped on purpose

    server = Server(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        q["endpoint_override"] = f"127.0.0.1:{server.server_address[1]}"
        yield f"{base}?{urlencode(q)}", faults, counts
    finally:
        server.shutdown()
        server.server_close()
