#!/usr/bin/env python3
"""A minimal NoETL stand-in for benchmarks: health, session validation, synchronous login,
and executions that stay RUNNING (started, status, cancel).

Every session token starting with "bench" is valid. Usage: noetl_stub.py PORT
"""
import itertools
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER = {"user_id": 1, "email": "bench@example.com", "display_name": "Bench", "roles": ["admin"]}
EXPIRES = "2099-01-01 00:00:00.000000+00"
IDS = itertools.count(583140612345678900)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body, status=200):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/api/health":
            self.answer({"status": "ok"})
        elif self.path.startswith("/api/executions/") and self.path.endswith("/status"):
            self.answer({"execution_id": int(self.path.split("/")[3]), "status": "RUNNING"})
        else:
            self.answer({"error": "not found", "status": 404}, 404)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/api/auth/session/validate":
            valid = str(body.get("session_token", "")).startswith("bench")
            self.answer({"status": "ok", "valid": valid, "user": USER, "expires_at": EXPIRES} if valid
                        else {"status": "ok", "valid": False})
        elif self.path == "/api/execute":
            self.answer({"execution_id": str(next(IDS)), "status": "started", "commands_generated": 1})
        elif self.path == "/api/auth/login":
            token = "bench-" + str(body.get("auth0_token", ""))[-12:]
            self.answer({"status": "success", "data": {"status": "authenticated", "session_token": token,
                                                       "user": USER, "expires_at": EXPIRES}})
        else:
            self.answer({"error": "not found", "status": 404}, 404)


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
