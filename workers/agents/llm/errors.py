"""The errors the LLM client raises. Each carries the provider's own message, so users see the real cause."""

from __future__ import annotations


class LLMError(Exception):
    """A call to a model failed. `retryable` errors (429, 5xx, timeouts, connection) are retried in an entry."""

    retryable = False

    def __init__(self, message: str, *, provider: str = "", model: str = "", status: int | None = None,
                 provider_message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status = status
        self.provider_message = provider_message
        self.retry_after = retry_after


class LLMAuthenticationError(LLMError):
    """The provider rejected the API key (401/403), or no key was available."""


class LLMModelNotFound(LLMError):
    """The provider does not know the model (404)."""


class LLMBadRequest(LLMError):
    """The provider refused the request as malformed (400/422)."""


class LLMContentFilterError(LLMBadRequest):
    """The provider's content filter refused the request; raised at once, without trying other entries."""


class LLMRateLimitError(LLMError):
    """429: too many requests. Retried with backoff (honouring Retry-After)."""

    retryable = True


class LLMServerError(LLMError):
    """5xx from the provider. Retried with backoff."""

    retryable = True


class LLMConnectionError(LLMError):
    """The endpoint could not be reached. Retried with backoff."""

    retryable = True


class LLMTimeoutError(LLMError, TimeoutError):
    """The model did not answer within the entry's `timeout`. Also a TimeoutError, as the spec requires."""

    retryable = True
