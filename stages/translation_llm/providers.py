"""One call to an LLM through its official SDK: Anthropic's Messages API or OpenAI's Chat
Completions (also any OpenAI-compatible server, through base_url). The SDKs retry 408/409/
429/5xx and connection errors themselves (``max_retries``, honouring retry-after); what is
left after that is sorted here into two kinds:

    Unavailable    no use asking again in this run (auth, quota, network down, the server
                   keeps answering 429/529/5xx, unknown model): keep the draft for the rest
    BlockRejected  the server refused this request only (400/413/422): keep this block's draft

The key is passed explicitly and never appears in a message (see keys.redact)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlparse

from shared.keys import Credential, redact

logger = logging.getLogger(__name__)

DEFAULT_MODELS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4o-mini"}
BASE_URL_VARIABLES = {"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL"}
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class Unavailable(Exception):
    """The provider cannot be used for the rest of this run."""


class BlockRejected(Exception):
    """The provider refused this one request."""


@dataclass
class Reply:
    text: str
    input_tokens: int
    output_tokens: int
    truncated: bool = False


@dataclass(frozen=True)
class Settings:
    provider: str
    model: str
    base_url: str | None
    timeout_s: float
    max_retries: int
    max_output_tokens: int
    temperature: float | None
    structured_output: bool
    schema: dict


def is_loopback(url: str | None) -> bool:
    return bool(url) and (urlparse(url).hostname or "") in LOOPBACK_HOSTS


class Client:
    """``complete(system, user) -> Reply`` for one provider."""

    def __init__(self, settings: Settings, credential: Credential | None) -> None:
        self.settings = settings
        self._secret = credential.value if credential else None
        # a local OpenAI-compatible server usually wants no key, but the SDK needs one
        api_key = self._secret or "no-key"
        kwargs = {"api_key": api_key, "max_retries": settings.max_retries,
                  "timeout": settings.timeout_s}
        if settings.base_url:
            kwargs["base_url"] = settings.base_url
        if settings.provider == "anthropic":
            import anthropic

            self._sdk = anthropic
            self._client = anthropic.Anthropic(**kwargs)
        else:
            import openai

            self._sdk = openai
            self._client = openai.OpenAI(**kwargs)

    def complete(self, system: str, user: str) -> Reply:
        try:
            if self.settings.provider == "anthropic":
                return self._anthropic(system, user)
            return self._openai(system, user)
        except self._sdk.APIError as e:
            raise self._classify(e) from None

    def _anthropic(self, system: str, user: str) -> Reply:
        s = self.settings
        extra: dict = {}
        if s.structured_output:
            extra["output_config"] = {"format": {"type": "json_schema", "schema": s.schema}}
        response = self._client.messages.create(
            model=s.model, max_tokens=s.max_output_tokens, system=system,
            messages=[{"role": "user", "content": user}], **extra)
        text = "".join(getattr(block, "text", "") for block in response.content
                       if getattr(block, "type", "") == "text")
        usage = response.usage
        return Reply(text, int(usage.input_tokens or 0), int(usage.output_tokens or 0),
                     truncated=response.stop_reason == "max_tokens")

    def _openai(self, system: str, user: str) -> Reply:
        s = self.settings
        extra: dict = {}
        if s.temperature is not None:
            extra["temperature"] = s.temperature
        if s.structured_output:
            extra["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "subtitle_lines", "strict": True, "schema": s.schema}}
        response = self._client.chat.completions.create(
            model=s.model, messages=[{"role": "system", "content": system},
                                     {"role": "user", "content": user}], **extra)
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice else ""
        usage = response.usage
        return Reply(text, int(getattr(usage, "prompt_tokens", 0) or 0),
                     int(getattr(usage, "completion_tokens", 0) or 0),
                     truncated=bool(choice and choice.finish_reason == "length"))

    def _classify(self, error: Exception) -> Exception:
        sdk = self._sdk
        where = self.settings.base_url or "the provider's API"
        detail = redact(str(error), self._secret)
        retries = self.settings.max_retries
        if isinstance(error, sdk.APIConnectionError):  # includes timeouts
            return Unavailable(f"cannot reach {where} after {retries} retries "
                               f"(network down or server not running?): {detail}")
        status = getattr(error, "status_code", None)
        if isinstance(error, (sdk.AuthenticationError, sdk.PermissionDeniedError)):
            return Unavailable(f"the {self.settings.provider} API refused the key "
                               f"(HTTP {status}): check it: {detail}")
        if isinstance(error, sdk.RateLimitError):
            return Unavailable(f"rate limit or quota (HTTP 429) after {retries} retries: "
                               f"{detail}")
        if isinstance(error, sdk.NotFoundError):
            return Unavailable(f"model {self.settings.model} or endpoint not found "
                               f"(HTTP 404): {detail}")
        if status is not None and (status >= 500 or status in (402, 408, 409)):
            return Unavailable(f"server error (HTTP {status}) after {retries} retries: "
                               f"{detail}")
        if status is not None:
            return BlockRejected(f"request refused (HTTP {status}): {detail} (a server that "
                                 "rejects an option: --set translation_llm.structured_output="
                                 "false, or temperature=null)")
        return Unavailable(f"{type(error).__name__}: {detail}")
