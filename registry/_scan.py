"""Risk scan of tool and prompt definitions.

Tool metadata is text the model reads as trusted context, so a malicious or compromised
upstream can hide instructions in it ("tool poisoning"), or change a reviewed tool later
("rug pull"). The scan runs on every new version and gives reviewers findings to look at.

Every string the model can read is scanned, not only ``description``: titles, schema text at
any depth, enum/default/example values, prompt arguments, and object keys themselves (a
property named ``sidenote`` is a side channel). Only the fields excluded from the hash
(``_meta``, ``icons``) are skipped, for the same reason they are not hashed.

The scan is a heuristic aid to review, not a verdict. Rules prefer precision on ordinary
tool text: a reviewer drowned in false alarms stops reading them. Codes are stable; messages
are for humans and may change.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import NamedTuple

import msgspec

from registry._canonical import TOOL_EXCLUDED_FIELDS


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class RiskLevel(enum.StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    severity: Severity
    path: str  # dotted location, e.g. inputSchema.properties.mode.enum[2]; "" is the whole definition
    message: str
    excerpt: str = ""  # invisible characters always escaped


class ScanReport(msgspec.Struct, frozen=True, kw_only=True):
    findings: tuple[Finding, ...]
    risk: RiskLevel


# Bounds so hostile input (huge, deep or cyclic) cannot stall or crash a sync.
_MAX_SCANNED_CHARS = 64 * 1024  # per string
_MAX_TOTAL_CHARS = 256 * 1024  # per definition (about 0.5 s of CPU at worst)
_MAX_DEPTH = 64
_MAX_NODES = 10_000
_LONG_TEXT = 1_000
_RANK = {s: i for i, s in enumerate(Severity)}
# JSON Schema machinery: URLs here identify a dialect or a $ref, they are not prose.
_URI_KEYWORDS = frozenset({"$schema", "$id", "$ref"})

# Most rules read *normalised* text: hidden characters dropped (tag characters decoded), NFKC,
# camelCase/snake_case/kebab-case split into words, casefolded, whitespace collapsed; so
# "sideNote", "side_note" and "Side  Note" all read "side note".
_INJECTION = (
    # Override: replace the user's and operator's instructions with the server's.
    r"\b(?:ignore|disregard|forget|override|bypass)\b(?: \w+){0,3}? "
    r"(?:instruction|prompt|rule|guideline)s?\b",
    r"\b(?:ignore|disregard|forget) (?:all |any |the |your )*(?:above|previous|prior|earlier|preceding)\b",
    # Concealment: an honest tool never needs the model to hide anything from the user.
    r"\b(?:do not|don't|dont|never|must not|should not) (?:\w+ ){0,2}?"
    r"(?:tell|mention|inform|reveal|disclose)\b",
    r"\b(?:do not|don't|dont|never) (?:let|show|notify|alert)\b.{0,40}?\buser\b",
    r"\bwithout (?:telling|informing|notifying|alerting|warning) (?:the )?user\b",
    # Preconditions: a hidden action chained onto an ordinary call.
    r"\bbefore (?:using|calling|invoking|running) (?:this|the|any) (?:tool|function)\b.{0,200}?"
    r"\b(?:read|send|pass|upload|forward)\b",
    # Orders and role changes for the model ("you must provide X" is a plain requirement).
    r"\byou must\b(?! (?:provide|specify|supply|enter|set|be|have)\b)",
    r"\byou are now\b|\bpretend (?:to be|you are)\b|\bsystem prompt\b",
    r"(?:^|[.!?:;>\]] ?|\byou (?:must|should|will|now) )act as\b",
    # Pseudo-tags and chat-template markers imitate a higher-priority channel.
    r"<\s*/?\s*(?:important|system|instructions?|admin|assistant|secret|hidden|critical)\b[^<>]{0,40}>",
    r"\[/?inst\]|<<\s*/?sys\s*>>|<\|\s*im (?:start|end)\s*\|>",
)
# Secrets, local files and conversation data, and side channels to carry them out. Bare
# "token" and "contents of" mostly mean pagination, LLM tokens and honest file tools, so only
# their qualified or request forms count.
_SENSITIVE_WORDS = (
    "password|passwd|passphrase|secret|credential|api key|apikey|private key|ssh|id rsa|id ed25519|"
    "cookie|session id|side note|sidenote|conversation history|chat history|message history|"
    "previous message|prior message|earlier message"
)
_SECRET = (
    rf"\b(?:{_SENSITIVE_WORDS})s?\b",
    r"(?<![\w.])\.env\b|/etc/(?:passwd|shadow)\b|\bmcp\.json\b",
    r"^(?:auth |access |bearer )?token$|\b(?:access|auth|bearer|refresh|api|session|oauth|jwt) tokens?\b",
    r"\b(?:pass|send|include|provide|attach|append|forward|upload|share|add|embed)\b(?: [\w'./~-]+){0,6}? "
    r"(?:file )?contents?\b",
)
# Shadowing: text that reconfigures *another* tool lets one upstream hijack calls meant for
# another. A group "name" that is the item itself does not count.
_SHADOW = (
    r"\bwhen(?:ever)? (?:the |a |an |any )?(?!this )(?P<name>(?:[\w.`'\"]+ ){1,3}?)(?:tool|function)s? "
    r"(?:is|are|gets?) (?:used|called|invoked|run|executed)\b",
    r"\binstead of (?:using |calling )?(?:the |a |an )?(?!this )(?P<name>(?:[\w.`'\"]+ ){1,3}?)"
    r"(?:tool|function|server)\b",
    r"\b(?:other|another|all|every|any other) (?:available |connected |installed |mcp )?tools?\b",
    r"\b(?:other|another|every|any other) (?:connected |mcp )?servers?\b|\bmcp servers?\b",
)
# The rest read *visible* text: hidden characters revealed, case and separators kept.
_IDENT = r"(?P<name>[a-z][a-z0-9]*(?:_[a-z0-9]+)+)"  # snake_case, next to tool/function/server
_SHADOW_IDENT = (
    rf"\b{_IDENT}[`'\"]? (?:tool|function|server)\b",
    rf"\b(?:tool|function|server) (?:called |named )?[`'\"]?{_IDENT}\b",
)
_ENCODED = (
    # Real base64 mixes cases and digits; long paths and identifiers do not.
    r"(?-i:(?<![\w+/-])(?=[\w+/-]*[A-Z])(?=[\w+/-]*[a-z])(?=[\w+/-]*[0-9])[\w+/-]{40,})",
    r"\b[0-9a-f]{64,}\b",
    r"\bdata:(?:[a-z]+/[a-z0-9.+-]+)?(?:;[a-z0-9.+=-]+)*,",
)
_URL = r"\b(?:https?|ftp|file|wss?)://[^\s<>\"'`]+|\bwww\.[a-z0-9-]+\.[a-z]{2,}"
_EMAIL = r"\b[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b"


class _Rule(NamedTuple):
    code: str
    severity: Severity
    message: str
    normalised: bool  # read the normalised text, else the visible text
    patterns: tuple[re.Pattern[str], ...]


def _rule(code: str, severity: Severity, message: str, normalised: bool, *patterns: str) -> _Rule:
    compiled = tuple(re.compile(p, re.IGNORECASE | re.DOTALL | re.ASCII) for p in patterns)
    return _Rule(code, severity, message, normalised, compiled)


_HIGH, _MEDIUM = Severity.HIGH, Severity.MEDIUM  # keeps the table one rule per line
_RULES = (
    _rule("instruction_injection", _HIGH, "instructions aimed at the model", True, *_INJECTION),
    _rule("secret_request", _HIGH, "asks for secrets, files or conversation data", True, *_SECRET),
    _rule("tool_shadowing", _HIGH, "refers to other tools or servers", True, *_SHADOW),
    _rule("tool_shadowing", _HIGH, "refers to another tool by name", False, *_SHADOW_IDENT),
    _rule("url", _MEDIUM, "contains a URL", False, _URL),
    _rule("email_address", _MEDIUM, "contains an email address", False, _EMAIL),
    _rule("encoded_blob", _HIGH, "contains encoded data a reviewer cannot read", False, *_ENCODED),
)
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class _Text(NamedTuple):
    path: str
    text: str  # the whole string; only a bounded prefix is scanned
    key: str  # the object key this string is, or sits under
    is_name: bool  # an object key rather than a value


def _invisible(char: str) -> Severity | None:
    cp = ord(char)
    # Tag characters smuggle whole hidden ASCII messages; bidi controls reorder what a
    # reviewer sees (Trojan Source). Neither has any business in tool metadata.
    if 0xE0000 <= cp <= 0xE007F or 0x202A <= cp <= 0x202E or 0x2066 <= cp <= 0x2069:
        return Severity.CRITICAL
    # Zero-width characters, other format and control characters, variation selectors 17+.
    if char not in "\n\r\t" and (unicodedata.category(char) in {"Cf", "Cc"} or 0xE0100 <= cp <= 0xE01EF):
        return Severity.HIGH
    return None


def _escape(text: str, limit: int = 160) -> str:
    """Make an excerpt safe to show: invisible and control characters become escapes."""
    unsafe = {"Cf", "Cc", "Co", "Cn", "Cs", "Zl", "Zp"}
    return "".join(
        (f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
        if unicodedata.category(c) in unsafe or _invisible(c)
        else c
        for c in text[:limit]
    )


def _untag(text: str) -> str:
    # Tag characters mirror printable ASCII: decoding them lets the rules read hidden text.
    return "".join(chr(ord(c) - 0xE0000) if 0xE0020 <= ord(c) <= 0xE007E else c for c in text)


def _plain(text: str) -> bool:
    # Fast path: most metadata is printable ASCII, which needs no per-character look-ups.
    return text.isascii() and _ASCII_CONTROL.search(text) is None


def _visible(text: str) -> str:
    """What the text says once hidden characters are decoded (tags) or dropped (the rest)."""
    if not _plain(text):
        text = unicodedata.normalize("NFKC", "".join(c for c in _untag(text) if not _invisible(c)))
    return re.sub(r"\s+", " ", text).strip()


def _normalise(visible: str) -> str:
    words = re.sub(r"[_-]+", " ", _CAMEL.sub(" ", visible)).replace("\u2019", "'")
    return re.sub(r"\s+", " ", words.casefold()).strip()


def _finding(code: str, severity: Severity, path: str, message: str, excerpt: str = "") -> Finding:
    return Finding(code=code, severity=severity, path=path, message=message, excerpt=excerpt)


def _truncated(path: str, message: str) -> Finding:
    return _finding("scan_truncated", Severity.INFO, path, message)


def _collect(definition: Mapping[str, object]) -> tuple[list[_Text], list[Finding]]:
    """Walk the definition iteratively (no recursion to exhaust), within the bounds."""
    texts: list[_Text] = []
    notes: list[Finding] = []
    stack: list[tuple[str, object, int, str]] = [("", definition, 0, "")]
    nodes = 0
    while stack:
        path, value, depth, key = stack.pop()
        nodes += 1
        if nodes > _MAX_NODES:
            notes.append(_truncated(path, "too many values; the rest was not scanned"))
            break
        if isinstance(value, str):
            texts.append(_Text(path, value, key, False))
        elif isinstance(value, Mapping | list | tuple) and depth >= _MAX_DEPTH:
            notes.append(_truncated(path, "nested too deeply; the rest was not scanned"))
        elif isinstance(value, Mapping):
            for k, item in reversed(list(value.items())):
                name = str(k)
                if path or name not in TOOL_EXCLUDED_FIELDS:
                    child = f"{path}.{name}" if path else name
                    texts.append(_Text(child, name, name, True))
                    stack.append((child, item, depth + 1, name))
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{i}]", v, depth + 1, key) for i, v in reversed(list(enumerate(value))))
    return texts, notes


def _check(item: _Text, scanned: str, own: frozenset[str]) -> Iterator[Finding]:
    hits = [] if _plain(scanned) else [(i, s) for i, c in enumerate(scanned) if (s := _invisible(c))]
    if hits:
        hidden = "".join(chr(ord(c) - 0xE0000) for c in scanned if 0xE0020 <= ord(c) <= 0xE007E)
        message = f"{len(hits)} invisible characters" + (f"; tags spell {_escape(hidden)!r}" if hidden else "")
        worst = max((s for _, s in hits), key=_RANK.__getitem__)
        start = hits[0][0]
        excerpt = _escape(scanned[max(0, start - 20) : start + 60])
        yield _finding("invisible_unicode", worst, item.path, message, excerpt)
    visible = _visible(scanned)
    norm = _normalise(visible)
    for rule in _RULES:
        if rule.code == "url" and item.key in _URI_KEYWORDS and not item.is_name:
            continue
        text = norm if rule.normalised else visible
        for match in (m for p in rule.patterns for m in p.finditer(text)):
            name = match.groupdict().get("name")
            if name is None or _normalise(name.strip(" `'\"")) not in own:
                excerpt = _escape(text[max(0, match.start() - 30) : match.end() + 30])
                yield _finding(rule.code, rule.severity, item.path, rule.message, excerpt)
                break
    if len(item.text) > _LONG_TEXT:
        yield _finding("long_description", Severity.LOW, item.path, "very long text", _escape(item.text, 80))


def _annotations(definition: Mapping[str, object]) -> Iterator[Finding]:
    hints = definition.get("annotations")
    if not isinstance(hints, Mapping):
        return
    if hints.get("destructiveHint") is True:
        yield _finding("destructive_annotation", Severity.MEDIUM, "annotations.destructiveHint", "destructive")
    if hints.get("readOnlyHint") is not True and hints.get("openWorldHint") is True:
        yield _finding("open_world", Severity.LOW, "annotations.openWorldHint", "writes to external systems")


def _growth(texts: list[_Text], previous: Mapping[str, object]) -> Iterator[Finding]:
    # A rug pull usually keeps the tool working and appends the payload to its text.
    before = sum(len(t.text) for t in _collect(previous)[0])
    after = sum(len(t.text) for t in texts)
    if after >= 2 * before and after - before >= 200:
        severity = Severity.HIGH if after >= 4 * before else Severity.MEDIUM
        yield _finding("description_growth", severity, "", f"text grew from {before} to {after} characters")


def scan_definition(definition: Mapping[str, object], *, previous: Mapping[str, object] | None = None) -> ScanReport:
    """Scan a tool or prompt definition for signs of poisoning.

    Never raises on JSON-like input: oversized, deep or cyclic input is scanned up to fixed
    bounds, and a ``scan_truncated`` finding says so.

    Args:
        definition: The definition as stored (``_meta`` and ``icons`` are skipped).
        previous: The previously known version, if any, to detect sudden text growth.

    Returns:
        Findings deduplicated per (path, code) and sorted by them, and the overall risk: the
        highest severity found, or ``none`` when there are only informational findings.
    """
    texts, found = _collect(definition)
    # Only the item's own name and title are "itself": exempting its other keys would let a
    # poisoned schema whitelist the very tool name it shadows.
    names = (v for k in ("name", "title") if isinstance(v := definition.get(k), str))
    own = frozenset(_normalise(_visible(name)) for name in names)
    found.extend(_annotations(definition))
    budget = _MAX_TOTAL_CHARS
    for item in texts:
        if budget <= 0:
            found.append(_truncated(item.path, "definition too large; the rest was not scanned"))
            break
        scanned = item.text[: min(_MAX_SCANNED_CHARS, budget)]
        budget -= len(scanned)
        if len(scanned) < len(item.text):
            found.append(_truncated(item.path, f"only the first {len(scanned)} characters were scanned"))
        found.extend(_check(item, scanned, own))
    if previous is not None:
        found.extend(_growth(texts, previous))
    unique: dict[tuple[str, str], Finding] = {}
    for finding in sorted(found, key=lambda f: _RANK[f.severity], reverse=True):
        unique.setdefault((finding.path, finding.code), finding)  # the most severe wins
    findings = tuple(sorted(unique.values(), key=lambda f: (f.path, f.code)))
    worst = max((f.severity for f in findings), key=_RANK.__getitem__, default=Severity.INFO)
    return ScanReport(findings=findings, risk=RiskLevel.NONE if worst is Severity.INFO else RiskLevel(worst))


def is_auto_approvable(definition: Mapping[str, object], report: ScanReport) -> bool:
    """Decide whether a version may be approved without a human.

    Only low-risk tools declared read-only, not destructive and not open-world qualify, and
    only when the whole definition was scanned (a truncated scan fails closed).

    Args:
        definition: The definition that was scanned.
        report: Its :func:`scan_definition` report.

    Returns:
        True when no human review is needed.
    """
    hints = definition.get("annotations")
    return (
        report.risk in {RiskLevel.NONE, RiskLevel.LOW}
        and not any(f.code == "scan_truncated" for f in report.findings)
        and isinstance(hints, Mapping)
        and hints.get("readOnlyHint") is True
        and hints.get("destructiveHint") is not True
        and hints.get("openWorldHint") is not True
    )
