"""A loopback stand-in for the Anthropic Messages and OpenAI Chat Completions APIs.

Listens on 127.0.0.1 (a random port), one thread per request, and stops after
``max_requests`` requests or ``max_seconds``, whichever comes first, so a test that goes
wrong cannot hang. Each request takes the next action of ``script`` (then ``default``):

    "ok"      translate: parse the {"lines": [...]} JSON the prompt carries and answer each
              line with ``prefix`` + its draft text, upper-cased; a line with no draft
              gets its source text, each letter of another script written as the first
              Latin letter of its Unicode name's syllable (नमस्ते -> NMSTE: Latin, as an
              English reply is, and no longer than the source, so a cue stays readable;
              ``romanize=False`` repeats the source as it is)
    "drop"    the same, without the last line (a reply the stage must reject)
    "garbage" a reply that is not JSON
    429, 529, 500, 401, 403, 400  that HTTP status with an error body (``retry-after-ms: 5``)

Every request is recorded (path, headers, parsed body) for assertions.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackService

LINES_MARKER = '{"lines"'


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class LlmServer(LoopbackService):
    script: list[Any] = field(default_factory=list)
    default: Any = "ok"
    prefix: str = "EN: "
    romanize: bool = True  # a line with no draft: its source's letters written in Latin
    usage: tuple[int, int] = (1000, 200)  # input, output tokens reported per reply
    max_requests: int = 200
    max_seconds: float = 120.0
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._serve(_handler(self))

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def next_action(self, recorded: Recorded) -> Any:
        with self._lock:
            self.requests.append(recorded)
            if len(self.requests) > self.max_requests:
                return 503
            return self.script.pop(0) if self.script else self.default


# -- the wire formats -------------------------------------------------------------------------
def prompt_text(path: str, body: dict) -> str:
    """Everything the client sent as text (system prompt and messages)."""
    parts = []
    system = body.get("system")
    if isinstance(system, str):
        parts.append(system)
    elif isinstance(system, list):
        parts += [b.get("text", "") for b in system]
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [b.get("text", "") for b in content if isinstance(b, dict)]
    return "\n".join(parts)


def lines_in(prompt: str) -> list[dict]:
    """The lines to translate: the last {"lines": [...]} JSON object in the prompt."""
    at = prompt.rfind(LINES_MARKER)
    if at < 0:
        return []
    data, _ = json.JSONDecoder().raw_decode(prompt[at:])
    return data["lines"]


def romanized(text: str) -> str:
    """Letters and vowel signs outside ASCII written as the first letter of their Unicode
    names' syllables ("DEVANAGARI LETTER NA" -> "N", "ARABIC LETTER ALEF" -> "A",
    "DEVANAGARI VOWEL SIGN E" -> "E"); other marks (virama, nukta, anusvara) dropped. One
    letter each: whole syllables made Arabic-script lines several times longer than the
    source, too long for their cues to be read."""
    out = []
    for ch in text:
        name = unicodedata.name(ch, "")
        if ch.isascii() or not unicodedata.category(ch).startswith(("L", "M")):
            out.append(ch)
        elif " LETTER " in name or " VOWEL SIGN " in name:
            out.append(re.split(r" LETTER | VOWEL SIGN ", name)[-1].split()[-1][0])
    return "".join(out)


def translate(lines: list[dict], prefix: str, romanize: bool = True) -> list[dict]:
    out = []
    for line in lines:
        text = line.get("draft") or (romanized if romanize else str)(line.get("source") or "")
        out.append({"id": line["id"], "text": prefix + text.upper()})
    return out


def messages_reply(text: str, model: str, usage: tuple[int, int]) -> dict:
    return {"id": "msg_test", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}


def chat_reply(text: str, model: str, usage: tuple[int, int]) -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                      "total_tokens": usage[0] + usage[1]}}


def error_body(path: str, status: int) -> dict:
    kind = {400: "invalid_request_error", 401: "authentication_error",
            403: "permission_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(
        status, "api_error")
    if path.endswith("/messages"):
        return {"type": "error", "error": {"type": kind, "message": f"test {status}"}}
    return {"error": {"message": f"test {status}", "type": kind, "code": None}}


def _handler(server: LlmServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()},
                                body)
            action = server.next_action(recorded)
            if not self.path.endswith(("/messages", "/chat/completions")):
                return self._send(404, {"error": {"message": "not found"}})
            if isinstance(action, int):
                return self._send(action, error_body(self.path, action),
                                  {"retry-after-ms": "5", "retry-after": "0"})
            lines = translate(lines_in(prompt_text(self.path, body)), server.prefix,
                              server.romanize)
            if action == "drop":
                lines = lines[:-1]
            text = "this is not JSON" if action == "garbage" else json.dumps(
                {"lines": lines}, ensure_ascii=False)
            model = body.get("model", "test-model")
            if self.path.endswith("/messages"):
                return self._send(200, messages_reply(text, model, server.usage))
            return self._send(200, chat_reply(text, model, server.usage))

        def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
