"""LLM clients of the engine: config lists, fallback, retries, streaming, usage and cost (spec §9).

Providers: `openai` (and OpenAI-compatible servers via base_url), `anthropic`, `replay` (in process).
Only the official openai and anthropic SDKs talk HTTP; their clients are shared per process
(sdk_clients.py).
"""

from .client import SUPPORTED_API_TYPES, Completion, LLMClient, OpenAIWrapper, build_provider
from .config import config_list_from_json, filter_config, get_config_list, normalise_llm_config, validate_entry
from .config_sources import config_list_from_dotenv, config_list_from_models, config_list_openai_aoai
from .custom import ModelClient
from .errors import (
    LLMAuthenticationError, LLMBadRequest, LLMConnectionError, LLMContentFilterError, LLMError, LLMModelNotFound,
    LLMRateLimitError, LLMServerError, LLMTimeoutError,
)
from .prepare import instantiate, sanitize_name
from .pricing import PRICES

__all__ = [
    "Completion", "LLMClient", "OpenAIWrapper", "SUPPORTED_API_TYPES", "build_provider",
    "config_list_from_json", "filter_config", "get_config_list", "normalise_llm_config", "validate_entry",
    "config_list_from_dotenv", "config_list_from_models", "config_list_openai_aoai", "ModelClient",
    "LLMError", "LLMAuthenticationError", "LLMModelNotFound", "LLMBadRequest", "LLMContentFilterError",
    "LLMRateLimitError", "LLMServerError", "LLMConnectionError", "LLMTimeoutError",
    "instantiate", "sanitize_name", "PRICES",
]
