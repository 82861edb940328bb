"""The provider layer: one interface over Anthropic and OpenAI.

Importing this package imports both SDKs (the RQ worker imports it before it
forks, so each job starts warm). It never imports storage, core, bot or slack.
"""

from .base import Provider
from .catalog import ModelInfo, lookup, models_for, resolve
from .errors import ErrorKind, ProviderError
from .pricing import price
from .registry import PROVIDER_IDS, PROVIDER_NAMES, get_provider, model_ref, parse_model_ref
from .server_tools import SERVER_TOOL_NAMES, WEB_FETCH, WEB_SEARCH
from .types import (
    ChatRequest,
    DocumentPart,
    Done,
    ImagePart,
    Message,
    OpaquePart,
    Response,
    ServerToolCall,
    ServerToolEvent,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallEvent,
    ToolResult,
    ToolSpec,
    Usage,
    UsageEvent,
)

__all__ = [
    "PROVIDER_IDS",
    "PROVIDER_NAMES",
    "ChatRequest",
    "DocumentPart",
    "Done",
    "ErrorKind",
    "ImagePart",
    "Message",
    "ModelInfo",
    "OpaquePart",
    "Provider",
    "ProviderError",
    "Response",
    "SERVER_TOOL_NAMES",
    "ServerToolCall",
    "ServerToolEvent",
    "StreamEvent",
    "TextDelta",
    "TextPart",
    "ToolCall",
    "ToolCallEvent",
    "ToolResult",
    "ToolSpec",
    "Usage",
    "UsageEvent",
    "WEB_FETCH",
    "WEB_SEARCH",
    "get_provider",
    "lookup",
    "model_ref",
    "models_for",
    "parse_model_ref",
    "price",
    "resolve",
]
