#!/usr/bin/env python3
"""A real HTTP server on loopback for minewatch's tests (test-only; minewatch never needs Python).

Implements STAC API item search (POST /search with intersects/bbox, datetime, collections and
query eo:cloud_cover, paged with rel=next POST links) over the STAC items under --root, and serves
files with HTTP range requests. Every request is logged as one JSON line (method, path, range,
bytes sent, status). Faults on demand: the first N searches fail with 500, searches always fail,
searches refused with 400, and GETs of chosen paths answered with 500, stalled, or truncated.
Prints the port it listens on, then serves until killed."""
import argparse, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--fail-search", type=int, default=0)
ap.add_argument("--search-always-fail", action="store_true")
ap.add_argument("--search-400", action="store_true")
ap.add_argument("--fail-500", action="append", default=[])
ap.add_argument("--stall", action="append", default=[])
ap.add_argument("--truncate", action="append", default=[])
ap.add_argument("--require-token", action="store_true")
# Hostile servers (issue #10): canned pages, endless bodies, redirect loops, resets, presigned URLs.
ap.add_argument("--page", help="answer every /search (POST or GET) with this file; {PORT} is replaced")
ap.add_argument("--huge-search", action="store_true", help="/search sends an endless body")
ap.add_argument("--redirect-search", help="/search answers 302 to this URL ({PORT} replaced)")
ap.add_argument("--reset", action="append", default=[], help="GETs of matching paths: connection reset")
ap.add_argument("--huge-file", action="append", default=[], help="GETs of matching paths: 2 GiB of 206 body")
ap.add_argument("--require-query", help="file reads must carry this text in their query")
ap.add_argument("--stall-s", type=float, default=30.0)
args = ap.parse_args()
root = os.path.abspath(args.root)
lock = threading.Lock()
state = {"searches": 0, "tokens": 0}
TOKEN = "st=2026-11-23&se=2030-01-01&sp=rl&sig=SECRET-TOKEN-4711"


def log(entry):
    with lock, open(args.log, "a") as f:
        f.write(json.dumps(entry) + "\n")


def items():
    out = []
    for d, _, files in os.walk(root):
        for n in files:
            if n.endswith(".json"):
                p = os.path.join(d, n)
                try:
                    j = json.load(open(p))
                except Exception:
                    continue
                if j.get("type") == "Feature":
                    out.append((p, j))
    out.sort(key=lambda t: (t[1]["properties"]["datetime"], t[1]["id"]))
    return out


def geom_bbox(g):
    xs, ys = [], []

    def walk(c):
        if isinstance(c[0], (int, float)):
            xs.append(c[0]); ys.append(c[1])
        else:
            for e in c:
                walk(e)
    walk(g["coordinates"])
    return [min(xs), min(ys), max(xs), max(ys)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        log({"method": self.command, "path": self.path, "status": code, "bytes": len(body)})

    def hostile_search(self):
        """The canned or hostile answers to /search; True when one was sent."""
        port = str(self.server.server_port)
        if args.redirect_search:
            self.send_response(302)
            self.send_header("Location", args.redirect_search.replace("{PORT}", port))
            self.send_header("Content-Length", "0")
            self.end_headers()
            log({"method": self.command, "path": self.path, "status": 302, "bytes": 0})
            return True
        if args.huge_search:
            self.send_response(200)
            self.send_header("Content-Type", "application/geo+json")
            self.send_header("Content-Length", str(2 << 30))
            self.end_headers()
            sent = 0
            try:
                self.wfile.write(b'{"type":"FeatureCollection","features":[')
                chunk = b" " * (1 << 20)
                while sent < (2 << 30):
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            log({"method": self.command, "path": self.path, "status": 200, "bytes": sent, "huge": True})
            self.close_connection = True
            return True
        if args.page:
            body = open(args.page).read().replace("{PORT}", port).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/geo+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            log({"method": self.command, "path": self.path, "status": 200, "bytes": len(body)})
            return True
        return False

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(n) or b"{}"
        if self.path.startswith("/search") and self.hostile_search():
            return
        req = json.loads(raw)
        if self.path != "/search":
            return self.send_json(404, {"code": "NotFound"})
        with lock:
            state["searches"] += 1
            k = state["searches"]
        if args.search_always_fail or k <= args.fail_search:
            return self.send_json(500, {"code": "ServerError", "description": "search backend unavailable"})
        if args.search_400:
            return self.send_json(400, {"code": "BadRequest", "description": "collection 'nope' does not exist"})
        t0, t1 = req["datetime"].split("/")
        box = geom_bbox(req["intersects"]) if "intersects" in req else req["bbox"]
        lte = req.get("query", {}).get("eo:cloud_cover", {}).get("lte")
        hits = []
        for p, it in items():
            dt = it["properties"]["datetime"]
            b = it["bbox"]
            if not (t0 <= dt <= t1):
                continue
            if b[0] > box[2] or b[2] < box[0] or b[1] > box[3] or b[3] < box[1]:
                continue
            if lte is not None and it["properties"].get("eo:cloud_cover", 0) > lte:
                continue
            base = "http://127.0.0.1:%d/%s/" % (self.server.server_port, os.path.relpath(os.path.dirname(p), root))
            for a in it["assets"].values():
                h = a["href"]
                a["href"] = base + (h[2:] if h.startswith("./") else h)
            hits.append(it)
        start, limit = int(req.get("token", 0)), int(req.get("limit", 10))
        page = hits[start:start + limit]
        links = []
        if start + limit < len(hits):
            links.append({"rel": "next", "href": "http://127.0.0.1:%d/search" % self.server.server_port,
                          "method": "POST", "merge": True, "body": {"token": start + limit}})
        self.send_json(200, {"type": "FeatureCollection", "features": page, "links": links,
                             "numberMatched": len(hits)})

    def serve_file(self, head):
        if self.path.startswith("/api/sas/v1/token/"):
            with lock:
                state["tokens"] += 1
            return self.send_json(200, {"msft:expiry": "2030-01-01T00:00:00Z", "token": TOKEN})
        if self.path.startswith("/search") and self.hostile_search():
            return
        rel, _, query = self.path.partition("?")
        if any(s in rel for s in args.reset):
            log({"method": self.command, "path": self.path, "status": 0, "bytes": 0, "reset": True})
            import socket, struct
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if args.require_query and args.require_query not in query:
            body = b"<Error><Code>SignatureDoesNotMatch</Code></Error>"
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return log({"method": self.command, "path": self.path, "status": 403, "bytes": 0})
        if args.require_token and "sig=SECRET-TOKEN-4711" not in query:
            body = b"<Error><Code>AuthenticationFailed</Code></Error>"
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return log({"method": self.command, "path": self.path, "status": 403, "bytes": 0})
        path = os.path.normpath(os.path.join(root, rel.lstrip("/")))
        if not path.startswith(root) or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return log({"method": self.command, "path": self.path, "status": 404, "bytes": 0})
        if any(s in rel for s in args.fail_500):
            body = b"internal error"
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return log({"method": self.command, "path": self.path, "status": 500, "bytes": 0 if head else len(body)})
        if any(s in rel for s in args.stall):
            log({"method": self.command, "path": self.path, "status": 0, "bytes": 0, "stalled": True})
            time.sleep(args.stall_s)
            return
        if any(s in rel for s in args.huge_file) and not head:
            self.send_response(206)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "image/tiff")
            self.send_header("Content-Range", "bytes 0-%d/%d" % ((2 << 30) - 1, 2 << 30))
            self.send_header("Content-Length", str(2 << 30))
            self.end_headers()
            sent = 0
            try:
                chunk = b"\0" * (1 << 20)
                while sent < (2 << 30):
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            self.close_connection = True
            return log({"method": self.command, "path": self.path, "status": 206, "bytes": sent, "huge": True})
        size = os.path.getsize(path)
        rng = self.headers.get("Range")
        a, b, code = 0, size - 1, 200
        if rng and rng.startswith("bytes="):
            lo, hi = rng[6:].split(",")[0].split("-")
            a = int(lo) if lo else max(0, size - int(hi))
            b = min(int(hi), size - 1) if (hi and lo) else size - 1
            code = 206
        length = b - a + 1
        self.send_response(code)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Content-Length", str(length))
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (a, b, size))
        self.end_headers()
        sent = 0
        if not head:
            with open(path, "rb") as f:
                f.seek(a)
                data = f.read(length)
            if any(s in rel for s in args.truncate):
                data = data[: len(data) // 2]
                self.close_connection = True
            self.wfile.write(data)
            sent = len(data)
        log({"method": self.command, "path": self.path, "range": rng, "status": code, "bytes": sent})

    def do_GET(self):
        self.serve_file(False)

    def do_HEAD(self):
        self.serve_file(True)


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
print(srv.server_port, flush=True)
srv.serve_forever()
