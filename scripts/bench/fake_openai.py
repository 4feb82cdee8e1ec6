#!/usr/bin/env python3
"""An OpenAI-compatible server that answers instantly: moderation (nothing flagged) and chat
completions, plain or streamed (SSE). For measuring what our server adds to time-to-first-token.

usage: fake_openai.py PORT
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CATEGORIES = ["hate", "hate/threatening", "harassment", "harassment/threatening", "illicit",
              "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions",
              "sexual", "sexual/minors", "violence", "violence/graphic"]
MODERATION = json.dumps({"id": "modr", "model": "omni-moderation-latest", "results": [{
    "flagged": False,
    "categories": {c: False for c in CATEGORIES},
    "category_scores": {c: 0.0 for c in CATEGORIES},
    "category_applied_input_types": {c: ["text"] for c in CATEGORIES},
}]}).encode()


def chunk(delta, finish=None):
    return "data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "fake",
                                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"


STREAM = (chunk({"role": "assistant", "content": "많이 "}) + chunk({"content": "힘드셨겠어요."})
          + chunk({}, "stop") + "data: [DONE]\n\n").encode()
PLAIN = json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "fake",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "많이 힘드셨겠어요."},
                                 "finish_reason": "stop"}]}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.endswith("/moderations"):
            payload, kind = MODERATION, "application/json"
        elif json.loads(body).get("stream"):
            payload, kind = STREAM, "text/event-stream"
        else:
            payload, kind = PLAIN, "application/json"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
