"""The HTTP translation point: every error becomes an RFC 9457 problem document."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException

from registry import AtriumError

AnyRequest = Request[object, object, State]


logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


def problem(status: int, code: str, detail: str, request: AnyRequest) -> Response[dict[str, object]]:
    body: dict[str, object] = {
        "type": f"urn:atrium:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        "instance": request.url.path,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="atrium"'} if status == 401 else None
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def atrium_error_handler(request: AnyRequest, exc: AtriumError) -> Response[dict[str, object]]:
    return problem(exc.status, exc.code, exc.detail, request)


def http_error_handler(request: AnyRequest, exc: HTTPException) -> Response[dict[str, object]]:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        # Litestar's own message names the field; msgspec's says what was wrong with it.
        extra = "; ".join(str(item.get("message", "")) for item in (exc.extra or []) if isinstance(item, dict))
        detail = f"{exc.detail}: {extra}" if extra else str(exc.detail)
        return problem(400, "invalid_request", detail, request)
    return problem(status, _HTTP_CODES.get(status, f"http_{status}"), str(exc.detail), request)


def unexpected_error_handler(request: AnyRequest, exc: Exception) -> Response[dict[str, object]]:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "internal_error", "an unexpected error occurred; it has been logged", request)
