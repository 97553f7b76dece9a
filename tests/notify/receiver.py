#!/usr/bin/env python3
"""A loopback stand-in for Slack, a generic webhook, Twilio, Jira and an SMTP server.

Usage: receiver.py DIR. Listens on 127.0.0.1 (free ports) and writes DIR/smtp_port, then DIR/port.
Every HTTP request is appended to DIR/requests.jsonl as
{"method","path","query","headers" (lower-cased names),"body"}; every mail to DIR/mail.jsonl as
{"mail_from","rcpt_to","data"}.

Scripting: DIR/plan.json, a JSON list of answers used up one per request, in order:
{"status": 429, "headers": {"Retry-After": "7"}, "body": "...", "hang_ms": 0}. With no plan the
answer is what the real service would say for the path.
"""
import json
import os
import re
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DIR = sys.argv[1]
LOCK = threading.Lock()
ISSUES = [0]
SIDS = [0]


def append(name, obj):
    with LOCK:
        with open(os.path.join(DIR, name), "a") as f:
            f.write(json.dumps(obj) + "\n")


def next_planned():
    path = os.path.join(DIR, "plan.json")
    with LOCK:
        if not os.path.exists(path):
            return None
        with open(path) as f:
            plan = json.load(f)
        if not plan:
            return None
        first = plan.pop(0)
        with open(path + ".tmp", "w") as f:
            json.dump(plan, f)
        os.replace(path + ".tmp", path)
        return first


def default_answer(method, path):
    if path.startswith("/slack/") or path.startswith("/services/"):  # the real webhook path shape
        return 200, "text/plain", "ok"
    if path.startswith("/hook"):
        return 200, "application/json", "{}"
    m = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages\.json", path)
    if m and method == "POST":
        with LOCK:
            SIDS[0] += 1
            sid = "SM%032d" % SIDS[0]
        return 201, "application/json", json.dumps({"sid": sid, "status": "queued", "account_sid": m.group(1)})
    if path == "/rest/api/2/issue" and method == "POST":
        with LOCK:
            ISSUES[0] += 1
            n = ISSUES[0]
        return 201, "application/json", json.dumps({"id": str(10000 + n), "key": "SEC-%d" % n, "self": "/rest/api/2/issue/%d" % n})
    if re.fullmatch(r"/rest/api/2/issue/[^/]+/comment", path) and method == "POST":
        return 201, "application/json", json.dumps({"id": "20001"})
    if re.fullmatch(r"/rest/api/2/issue/[^/]+/transitions", path):
        if method == "GET":
            return 200, "application/json", json.dumps({"transitions": [
                {"id": "11", "name": "To Do"}, {"id": "21", "name": "In Progress"}, {"id": "31", "name": "Done"}]})
        return 204, None, ""
    return 404, "application/json", json.dumps({"errorMessages": ["no such path"]})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        u = urlsplit(self.path)
        append("requests.jsonl", {"method": self.command, "path": u.path, "query": u.query,
                                  "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        plan = next_planned()
        if plan is not None:
            if plan.get("hang_ms"):
                time.sleep(plan["hang_ms"] / 1000.0)
            status, ctype, text = plan.get("status", 200), "application/json", plan.get("body", "")
            extra = plan.get("headers", {})
        else:
            status, ctype, text = default_answer(self.command, u.path)
            extra = {}
        data = text.encode()
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


class SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for libcurl: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        self.reply("220 secplat-test-sink ESMTP")
        mail_from, rcpt = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 secplat-test-sink")
            elif verb == "MAIL":
                mail_from, rcpt = line.split(":", 1)[1].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpt.append(line.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    d = self.rfile.readline()
                    if not d or d in (b".\r\n", b".\n"):
                        break
                    if d.startswith(b".."):
                        d = d[1:]
                    lines.append(d.decode("utf-8", "replace"))
                append("mail.jsonl", {"mail_from": mail_from, "rcpt_to": rcpt, "data": "".join(lines)})
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            else:
                self.reply("502 Command not implemented")


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ThreadingHTTPServer.daemon_threads = True
    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    smtp = SmtpServer(("127.0.0.1", 0), SmtpHandler)
    threading.Thread(target=smtp.serve_forever, daemon=True).start()
    for name, port in (("smtp_port", smtp.server_address[1]), ("port", http.server_address[1])):
        with open(os.path.join(DIR, name + ".tmp"), "w") as f:
            f.write(str(port) + "\n")
        os.replace(os.path.join(DIR, name + ".tmp"), os.path.join(DIR, name))
    http.serve_forever()


if __name__ == "__main__":
    main()
