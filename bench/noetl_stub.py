#!/usr/bin/env python3
"""A minimal NoETL stand-in for benchmarks and the client checks: health, session
validation, synchronous login, the login and check-access playbooks (answered by a callback
to the workload's gateway_url, as a worker would), and executions that stay RUNNING.

Every session token starting with "bench" is valid; an identity token starting with "bad"
is refused. Usage: noetl_stub.py PORT
"""
import itertools
import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER = {"user_id": 1, "email": "bench@example.com", "display_name": "Bench", "roles": ["admin"]}
EXPIRES = "2099-01-01 00:00:00.000000+00"
IDS = itertools.count(583140612345678900)
LOGIN = "api_integration/auth0/auth0_login"
CHECK_ACCESS = "api_integration/auth0/check_playbook_access"


def login_reply(idp_token):
    if idp_token.startswith("bad"):
        return "error", {"error": "invalid identity token", "message": "Authentication failed"}
    return "success", {"status": "authenticated", "session_token": "bench-" + idp_token[-12:],
                       "user": USER, "expires_at": EXPIRES}


def call_back(payload, execution_id, path):
    """Posts what a worker running the auth playbook would post, after the answer is sent."""
    url = str(payload.get("gateway_url", "")).rstrip("/") + "/api/internal/callback"
    if path == LOGIN:
        status, data = login_reply(str(payload.get("auth0_token", "")))
    else:
        allowed = str(payload.get("session_token", "")).startswith("bench")
        status, data = "success", {"allowed": allowed, "message": "Access granted" if allowed else "Access denied"}
    body = {"request_id": payload.get("request_id"), "execution_id": execution_id,
            "status": status, "data": data}
    headers = {"content-type": "application/json"}
    if payload.get("traceparent"):
        headers["traceparent"] = payload["traceparent"]
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        urllib.request.urlopen(request, timeout=5).read()
    except OSError as err:
        print(f"callback to {url} failed: {err}", file=sys.stderr)


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
            execution_id = str(next(IDS))
            self.answer({"execution_id": execution_id, "status": "started", "commands_generated": 1})
            payload = body.get("payload") or {}
            if body.get("path") in (LOGIN, CHECK_ACCESS) and payload.get("gateway_url"):
                threading.Thread(target=call_back, args=(payload, execution_id, body["path"]),
                                 daemon=True).start()
        elif self.path == "/api/auth/login":
            status, data = login_reply(str(body.get("auth0_token", "")))
            self.answer({"status": status, "data": data}, 200 if status == "success" else 401)
        else:
            self.answer({"error": "not found", "status": 404}, 404)


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
