"""A real OpenAI-compatible HTTP server (http.server in a thread) that misbehaves on request.

Each POST /v1/chat/completions takes the next behaviour from `script` (then `default`):
ok, nonjson, html, null_message, no_choices, huge_logprob, nan_logprob, hang, 500, 429, close.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BEHAVIOURS = ("ok", "nonjson", "html", "null_message", "no_choices", "huge_logprob",
              "nan_logprob", "hang", "500", "429", "close")


def completion(text: str, logprob: float | None = None) -> dict:
    choice = {"index": 0, "finish_reason": "stop",
              "message": {"role": "assistant", "content": text}}
    if logprob is not None:
        choice["logprobs"] = {"content": [{"token": text[:1], "logprob": logprob, "bytes": None,
                                           "top_logprobs": [{"token": text[:1], "logprob": logprob,
                                                             "bytes": None}]}]}
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [choice]}


class FakeServer:
    def __init__(self, default: str = "ok", answer: str = "3", models_hang: bool = False,
                 models_status: int = 200):
        self.default, self.answer, self.models_hang = default, answer, models_hang
        self.models_status = models_status
        self.script: list[str] = []
        self.posts = 0
        self.lock = threading.Lock()
        self.release = threading.Event()  # set at shutdown so hanging handlers return
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if server.models_hang:
                    server.release.wait(60)
                    return
                if server.models_status != 200:
                    self._send(server.models_status, b'{"error": {"message": "no"}}')
                    return
                self._send(200, json.dumps({"object": "list", "data": [
                    {"id": "fake", "object": "model", "created": 0, "owned_by": "test"}]}).encode())

            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with server.lock:
                    server.posts += 1
                    mode = server.script.pop(0) if server.script else server.default
                body = json.dumps(completion(server.answer)).encode()
                if mode == "ok":
                    self._send(200, body)
                elif mode == "nonjson":
                    self._send(200, b"this is not json {", "application/json")
                elif mode == "html":
                    self._send(200, b"<html><body>Bad gateway</body></html>", "text/html")
                elif mode == "null_message":
                    data = completion(server.answer)
                    data["choices"][0]["message"] = None
                    self._send(200, json.dumps(data).encode())
                elif mode == "no_choices":
                    self._send(200, json.dumps({"id": "c1", "choices": []}).encode())
                elif mode == "huge_logprob":
                    self._send(200, json.dumps(completion(server.answer, 1000.0)).encode())
                elif mode == "nan_logprob":
                    text = json.dumps(completion(server.answer, 0.0)).replace('"logprob": 0.0', '"logprob": NaN')
                    self._send(200, text.encode())
                elif mode == "hang":
                    server.release.wait(60)
                elif mode == "500":
                    self._send(500, b'{"error": {"message": "boom"}}')
                elif mode == "429":
                    self._send(429, b'{"error": {"message": "slow down"}}', extra={"retry-after": "0"})
                elif mode == "close":
                    self.close_connection = True
                    self.connection.close()
                else:
                    raise ValueError(mode)

            def _send(self, status, payload, content_type="application/json", extra=None):
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A localhost URL where nothing listens (the port was bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    time.sleep(0.01)
    return f"http://127.0.0.1:{port}/v1"
