"""JSON-RPC 2.0 and MCP wire types, and the msgspec codecs built once for them.

A POST body is decoded once into :class:`Envelope` (``params`` kept as :class:`msgspec.Raw`);
each method then decodes its params with its own decoder. Unknown fields are never rejected,
so ``_meta`` and fields from newer protocol revisions pass through untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple, TypeVar

import msgspec
from msgspec import UNSET, Raw, UnsetType

RequestId = int | str

# JSON-RPC 2.0 and MCP error codes (2026-07-28 schema; -32020..-32022 are modern-only).
PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
HEADER_MISMATCH: Final = -32020
MISSING_REQUIRED_CLIENT_CAPABILITY: Final = -32021
UNSUPPORTED_PROTOCOL_VERSION: Final = -32022

MODERN_VERSIONS: Final = ("2026-07-28",)
"""Stateless revisions: every request carries its version in ``_meta``."""
LEGACY_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
"""Revisions negotiated by the ``initialize`` handshake, newest first."""
SUPPORTED_VERSIONS: Final = MODERN_VERSIONS + LEGACY_VERSIONS
BATCH_VERSION: Final = "2025-03-26"
"""The one revision whose Streamable HTTP transport accepted JSON-RPC batches."""
PRIMING_SINCE: Final = "2025-11-25"
"""SSE priming events (an id with empty data) were introduced in this revision."""

META_PROTOCOL_VERSION: Final = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_INFO: Final = "io.modelcontextprotocol/clientInfo"
META_CLIENT_CAPABILITIES: Final = "io.modelcontextprotocol/clientCapabilities"
META_LOG_LEVEL: Final = "io.modelcontextprotocol/logLevel"
META_SUBSCRIPTION_ID: Final = "io.modelcontextprotocol/subscriptionId"
META_SERVER_INFO: Final = "io.modelcontextprotocol/serverInfo"

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
LOG_LEVELS: Final[tuple[str, ...]] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
LOG_RANK: Final[Mapping[str, int]] = {level: rank for rank, level in enumerate(LOG_LEVELS)}


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """Any JSON-RPC message, as first decoded; :func:`classify` says which kind it is."""

    jsonrpc: str | UnsetType = UNSET
    id: RequestId | UnsetType | None = UNSET
    method: str | UnsetType = UNSET
    params: Raw | UnsetType = UNSET
    result: Raw | UnsetType = UNSET
    error: Raw | UnsetType = UNSET


class _IdProbe(msgspec.Struct, frozen=True):
    """Recovers the id of a message whose envelope failed validation, to address the error."""

    id: RequestId | UnsetType = UNSET


class Request(NamedTuple):
    id: RequestId
    method: str
    params: Raw | UnsetType


class Notification(NamedTuple):
    method: str
    params: Raw | UnsetType


class Response(NamedTuple):
    """A client's answer to a server-to-client request."""

    id: RequestId
    result: Raw | UnsetType
    error: Raw | UnsetType


Message = Request | Notification | Response


# --- outgoing -------------------------------------------------------------------------------


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    code: int
    message: str
    data: Any = UNSET


class _ResultMessage(msgspec.Struct, frozen=True, kw_only=True):
    jsonrpc: str = "2.0"
    id: RequestId
    result: Mapping[str, Any]


class _ErrorMessage(msgspec.Struct, frozen=True, kw_only=True):
    jsonrpc: str = "2.0"
    id: RequestId | None
    error: ErrorBody


class _NotificationMessage(msgspec.Struct, frozen=True, kw_only=True):
    jsonrpc: str = "2.0"
    method: str
    params: Mapping[str, Any] | UnsetType = UNSET


class _RequestMessage(msgspec.Struct, frozen=True, kw_only=True):
    jsonrpc: str = "2.0"
    id: RequestId
    method: str
    params: Mapping[str, Any]


_encoder = msgspec.json.Encoder()


def encode_result(request_id: RequestId, result: Mapping[str, Any]) -> bytes:
    return _encoder.encode(_ResultMessage(id=request_id, result=result))


def encode_error(request_id: RequestId | None, error: ErrorBody) -> bytes:
    return _encoder.encode(_ErrorMessage(id=request_id, error=error))


def encode_notification(method: str, params: Mapping[str, Any] | None = None) -> bytes:
    return _encoder.encode(_NotificationMessage(method=method, params=UNSET if params is None else params))


def encode_request(request_id: RequestId, method: str, params: Mapping[str, Any]) -> bytes:
    return _encoder.encode(_RequestMessage(id=request_id, method=method, params=params))


# --- incoming params ------------------------------------------------------------------------


class Params(msgspec.Struct, frozen=True, kw_only=True):
    """Fields every request's params may carry."""

    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class InitializeParams(Params, frozen=True, kw_only=True, rename="camel"):
    protocol_version: str
    capabilities: dict[str, Any] = {}
    client_info: dict[str, Any] = {}


class PaginatedParams(Params, frozen=True, kw_only=True):
    cursor: str | None = None


class SetLevelParams(Params, frozen=True, kw_only=True):
    level: LogLevel


class SubscribeParams(Params, frozen=True, kw_only=True):
    uri: str


class CancelledParams(Params, frozen=True, kw_only=True, rename="camel"):
    request_id: RequestId
    reason: str | None = None


class SubscriptionFilter(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    tools_list_changed: bool = False
    prompts_list_changed: bool = False
    resources_list_changed: bool = False
    resource_subscriptions: tuple[str, ...] = ()


class ListenParams(Params, frozen=True, kw_only=True):
    notifications: SubscriptionFilter


class ErrorReply(msgspec.Struct, frozen=True, kw_only=True):
    """The ``error`` member of a client's error response."""

    code: int
    message: str
    data: Any = None


class ProtocolError(Exception):
    """A JSON-RPC error raised by the protocol layer itself (bad envelope, bad params, ...).

    ``request_id`` is the id the error answers, when it is known (an envelope error may know it).
    """

    def __init__(self, code: int, message: str, data: Any = UNSET, *, request_id: RequestId | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data, self.request_id = code, message, data, request_id

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, data=self.data)


_body_decoder = msgspec.json.Decoder(Envelope | list[Raw])
_envelope_decoder = msgspec.json.Decoder(Envelope)
_id_probe = msgspec.json.Decoder(_IdProbe)
_dict_decoder = msgspec.json.Decoder(dict[str, Any])
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {
    kind: msgspec.json.Decoder(kind)
    for kind in (
        Params,
        InitializeParams,
        PaginatedParams,
        SetLevelParams,
        SubscribeParams,
        CancelledParams,
        ListenParams,
        ErrorReply,
    )
}
_EMPTY_OBJECT = Raw(b"{}")
T = TypeVar("T")


def decode_body(body: bytes) -> tuple[list[Message], bool]:
    """One POST body as its messages, and whether it was a batch.

    Raises:
        ProtocolError: PARSE_ERROR for bytes that are not JSON, INVALID_REQUEST for JSON that is not
            a JSON-RPC message (or batch of them), with the message's id when it was readable.
    """
    try:
        decoded = _body_decoder.decode(body)
    except msgspec.ValidationError:
        raise _invalid_request(body) from None
    except (msgspec.DecodeError, RecursionError):
        raise ProtocolError(PARSE_ERROR, "Parse error") from None
    if isinstance(decoded, Envelope):
        return [classify(decoded, body)], False
    if not decoded:
        raise ProtocolError(INVALID_REQUEST, "Invalid Request: empty batch")
    messages: list[Message] = []
    for raw in decoded:
        try:
            envelope = _envelope_decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            raise _invalid_request(b"") from None
        messages.append(classify(envelope, bytes(raw)))
    return messages, True


def _invalid_request(body: bytes, detail: str = "not a JSON-RPC 2.0 message") -> ProtocolError:
    # The id, when it can be read, goes back to the client so it can match the error.
    try:
        probe = _id_probe.decode(body) if body else _IdProbe()
    except (msgspec.DecodeError, RecursionError):
        probe = _IdProbe()
    request_id = None if isinstance(probe.id, UnsetType) else probe.id
    return ProtocolError(INVALID_REQUEST, f"Invalid Request: {detail}", request_id=request_id)


def classify(envelope: Envelope, body: bytes = b"") -> Message:
    """Which kind of JSON-RPC message an envelope is.

    Raises:
        ProtocolError: INVALID_REQUEST when it is none of request, notification or response.
    """
    if envelope.jsonrpc != "2.0":
        raise _invalid_request(body, 'jsonrpc must be "2.0"')
    if not isinstance(envelope.method, UnsetType):
        if isinstance(envelope.id, UnsetType):
            return Notification(envelope.method, envelope.params)
        if envelope.id is None:
            raise _invalid_request(body, "a request id must be a string or an integer")
        return Request(envelope.id, envelope.method, envelope.params)
    if isinstance(envelope.id, int | str) and (
        isinstance(envelope.result, UnsetType) != isinstance(envelope.error, UnsetType)
    ):
        return Response(envelope.id, envelope.result, envelope.error)
    raise _invalid_request(body, "neither a request, a notification nor a response")


def decode_params(raw: Raw | UnsetType | Mapping[str, Any], kind: type[T]) -> T:
    """Params as ``kind``, from raw JSON or from an already decoded object.

    Raises:
        ProtocolError: INVALID_PARAMS, saying what was wrong.
    """
    try:
        if isinstance(raw, Mapping):
            return msgspec.convert(raw, kind, strict=True)
        decoder: msgspec.json.Decoder[T] = _decoders[kind]
        return decoder.decode(_EMPTY_OBJECT if isinstance(raw, UnsetType) else raw)
    except msgspec.ValidationError as exc:
        raise ProtocolError(INVALID_PARAMS, f"Invalid params: {exc}") from None
    except (msgspec.DecodeError, RecursionError):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: not decodable") from None


def decode_object(raw: Raw | UnsetType) -> dict[str, Any]:
    """Params as a plain JSON object, for methods the backend answers.

    Raises:
        ProtocolError: INVALID_PARAMS when params is not an object, or ``_meta`` is not one.
    """
    try:
        params = {} if isinstance(raw, UnsetType) else _dict_decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: params must be an object") from None
    if not isinstance(params.get("_meta", {}), dict):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: _meta must be an object")
    return params


def meta_of(params: Mapping[str, Any]) -> dict[str, Any]:
    meta = params.get("_meta")
    return meta if isinstance(meta, dict) else {}
