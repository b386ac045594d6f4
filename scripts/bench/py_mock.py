#!/usr/bin/env python3
"""A minimal OpenAI- and Anthropic-compatible chat server in Python's standard library, for
`warden-bench --base-url`: it answers every chat request with one call to the tool `calc`.

It has none of the in-repo mock's admin routes, so it shows what warden-bench measures against
a server it cannot steer, and it is the kind of server issue 14's targets were first measured
against (a Python mock, several times slower per request than the in-repo Rust mock).

Usage: `python3 scripts/bench/py_mock.py [--port N]`; prints `py-mock listening on URL`.
Loopback only. Routes: `POST /v1/chat/completions` (or `/chat/completions`), `POST /v1/messages`.
"""

import argparse
import itertools
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGUMENTS = {"expression": "1+1"}
MAX_BODY = 8 << 20
_ids = itertools.count(1)


def openai_answer(request):
    n = next(_ids)
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "mock"),
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [{
                    "id": f"call_{n}",
                    "type": "function",
                    "function": {"name": "calc", "arguments": json.dumps(ARGUMENTS)},
                }],
            },
            "finish_reason": "tool_calls",
        }],
        "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
    }


def anthropic_answer(request):
    n = next(_ids)
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "model": request.get("model", "mock"),
        "content": [{"type": "tool_use", "id": f"toolu_{n}", "name": "calc", "input": ARGUMENTS}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 20, "output_tokens": 10},
    }


ROUTES = {
    "/v1/chat/completions": openai_answer,
    "/chat/completions": openai_answer,
    "/v1/messages": anthropic_answer,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    # Headers and body go out in two writes: without this, Nagle's algorithm holds the body
    # until the client's delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True

    def send_json(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        answer = ROUTES.get(self.path)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self.send_json(413, {"error": {"message": "body too large"}})
        raw = self.rfile.read(length)
        if answer is None:
            return self.send_json(404, {"error": {"message": f"no route {self.path}"}})
        try:
            request = json.loads(raw)
        except ValueError as e:
            return self.send_json(400, {"error": {"message": f"body is not JSON: {e}"}})
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
            return self.send_json(400, {"error": {"message": "no messages"}})
        self.send_json(200, answer(request))

    def do_GET(self):
        self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"py-mock listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
