"""Replay: the requests of a failing scenario as `curl` commands anyone can paste into a shell.

A finding is only as good as the implementer's ability to reproduce it without the suite. So
under a failure the suite prints, after the exchanges, one command per request: the exact method,
URL, the headers that matter and the body, with bash quoting done by `shlex`.

Secrets never appear. A configured password becomes `$ADMIN_PASSWORD` (the principal's name), a
token the target issued becomes `$ACCESS_TOKEN`, `$REFRESH_TOKEN_2`, ..., and a note says how to
fill each: from the config file, or from the answer to an earlier command (which is then shown
too, even when it is older than the commands shown). A value counts as a secret only where it
stands whole - a JSON string, a bearer credential, a query value - so a short password is never
cut out of the middle of an email. Tokens the suite forged itself (alg none, a flipped
signature, ...) are test input, not the target's secrets, and are shown as sent.

A body that is short printable text goes in `--data-raw`. Anything else (bytes that are not
UTF-8, control or invisible characters, or a body too long for a command line) is written by
`printf` into `--data-binary @-`, with long runs of one byte made by `head -c N /dev/zero | tr`,
so that an 8 MiB body is still a one-line command.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
from dpaas_conformance.library.target import Principal

TOKEN_FIELDS = ("access_token", "refresh_token")
# Headers httpx adds by itself and curl makes its own (Host, Content-Length) or does without.
DEFAULT_HEADERS = {"host", "accept-encoding", "connection", "user-agent", "content-length",
                   "transfer-encoding"}
INLINE_LIMIT = 4096  # bytes of body that still read well on a command line
RUN_LIMIT = 256  # a run of one byte this long is generated, not spelled out
SHELL_NAME = re.compile(r"[A-Za-z0-9_]")


@dataclass(frozen=True)
class Secret:
    """A value the commands carry as a shell variable, and how a reader fills it."""

    variable: str
    value: str
    note: str
    source: int | None = None  # the exchange whose answer holds it (None: the config file)


@dataclass(frozen=True)
class Var:
    """A shell variable standing in a command where a secret stood in the request."""

    name: str


Segment = str | Var  # a command word is literal text and variables, in order


@dataclass(frozen=True)
class Command:
    number: int  # the exchange's place in the scenario, from 1
    summary: str  # "POST /authentication/login, answered 401"
    text: str
    variables: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "request": self.summary, "command": self.text}


@dataclass(frozen=True)
class Replay:
    commands: tuple[Command, ...]
    secrets: tuple[Secret, ...]  # the ones the commands use, in the order they are to be filled
    skipped: int  # exchanges neither shown nor needed

    def render(self) -> str:
        lines = []
        if self.secrets:
            lines.append("# Set these shell variables first (the real values are never printed):")
            lines += [f"#   {s.variable}: {s.note}" for s in self.secrets]
        if self.skipped:
            lines.append(f"# ({self.skipped} other requests of the scenario are not shown)")
        for command in self.commands:
            lines += ["", f"# {command.number}. {command.summary}", command.text]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "variables": {s.variable: s.note for s in self.secrets},
            "commands": [c.to_json() for c in self.commands],
        }


def build(
    exchanges: Sequence[Any], principals: Iterable[Principal], config_source: str,
    last: int = 12,
) -> Replay:
    """Commands for the last `last` exchanges, plus the earlier ones whose answers they need.

    `exchanges` are the client's records (`request`, `response`), in the order they were made.
    """
    secrets = _password_secrets(principals, config_source) + _issued_tokens(exchanges)
    words = [_words(e.request, secrets) for e in exchanges]
    shown = set(range(max(0, len(exchanges) - last), len(exchanges)))
    sources = {s.variable: s.source for s in secrets}
    pending = list(shown)
    while pending:  # the commands whose answers fill a variable a shown command uses
        index = pending.pop()
        for name in _variables(words[index]):
            source = sources.get(name)
            if source is not None and source not in shown:
                shown.add(source)
                pending.append(source)
    commands = tuple(_command(i + 1, exchanges[i], words[i]) for i in sorted(shown))
    used = {v for c in commands for v in c.variables}
    return Replay(commands, tuple(s for s in secrets if s.variable in used),
                  len(exchanges) - len(shown))


# --- what is secret ---------------------------------------------------------------------------


def _password_secrets(principals: Iterable[Principal], source: str) -> list[Secret]:
    found = []
    for principal in principals:
        if not principal.password:
            continue
        note = (f"the {principal.name} principal's password ({principal.email} in "
                f"{principal.organization_slug}), from {source}")
        found.append(Secret(f"{principal.name.upper()}_PASSWORD", principal.password,
                            note + _escaping_note(principal.password)))
    return found


def _issued_tokens(exchanges: Sequence[Any]) -> list[Secret]:
    """Every token the target handed out in a JSON answer, named in the order it came."""
    found: list[Secret] = []
    seen: set[str] = set()
    counts: dict[str, int] = {}
    for index, exchange in enumerate(exchanges):
        body = _json_of(exchange.response)
        if not isinstance(body, dict):
            continue
        for field in TOKEN_FIELDS:
            value = body.get(field)
            if not isinstance(value, str) or not value or value in seen:
                continue
            seen.add(value)
            counts[field] = counts.get(field, 0) + 1
            name = field.upper() + (f"_{counts[field]}" if counts[field] > 1 else "")
            note = f'"{field}" in the answer to command {index + 1} (run it and copy the value)'
            found.append(Secret(name, value, note + _escaping_note(value), index))
    return found


def _json_of(response: httpx.Response | None) -> Any:
    if response is None or not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        return None


def _escaping_note(value: str) -> str:
    if json.dumps(value, ensure_ascii=False)[1:-1] == value:
        return ""
    return "; where it goes inside a JSON body, give its JSON-escaped form"


# --- splitting a request into literal text and variables --------------------------------------


@dataclass(frozen=True)
class Words:
    """One request, its secrets already replaced by variables."""

    method: str
    url: list[Segment]
    headers: list[tuple[str, list[Segment]]]
    body: list[Segment]  # text; bytes that are not UTF-8 as lone surrogates


def _words(request: httpx.Request, secrets: Sequence[Secret]) -> Words:
    headers = []
    for name, value in request.headers.multi_items():
        lowered = name.lower()
        if lowered in DEFAULT_HEADERS or (lowered == "accept" and value == "*/*"):
            continue
        if lowered == "authorization":
            scheme, space, credential = value.partition(" ")
            var = _whole(credential, secrets)
            segments: list[Segment] = [f"{scheme}{space}", var] if var and space else [value]
        else:
            var = _whole(value, secrets)
            segments = [var] if var else [value]
        headers.append((name, segments))
    return Words(request.method, _url(str(request.url), secrets), headers,
                 _body(request.content, secrets))


def _whole(value: str, secrets: Sequence[Secret]) -> Var | None:
    for secret in secrets:
        if value == secret.value:
            return Var(secret.variable)
    return None


def _url(url: str, secrets: Sequence[Secret]) -> list[Segment]:
    """The URL as sent; a query value that is a whole secret becomes a variable."""
    base, mark, query = url.partition("?")
    if not mark:
        return [url]
    segments: list[Segment] = [base + "?"]
    for i, pair in enumerate(query.split("&")):
        key, eq, value = pair.partition("=")
        var = _whole(unquote(value), secrets) if eq else None
        prefix = ("&" if i else "") + key + eq
        segments += [prefix, var] if var else [prefix + value]
    return _merge(segments)


def _body(content: bytes, secrets: Sequence[Secret]) -> list[Segment]:
    """The body with every whole JSON string that is a secret cut out.

    Bytes that are not UTF-8 are kept as lone surrogates (surrogateescape), so that a secret in
    a body that is not all text is still cut out, and the bytes come back exactly.
    """
    text = content.decode("utf-8", "surrogateescape")
    segments: list[Segment] = [text] if text else []
    for secret in sorted(secrets, key=lambda s: len(s.value), reverse=True):
        forms = {json.dumps(secret.value)[1:-1], json.dumps(secret.value, ensure_ascii=False)[1:-1]}
        for form in forms:
            segments = _cut(segments, f'"{form}"', secret.variable)
    return segments


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _cut(segments: list[Segment], quoted: str, variable: str) -> list[Segment]:
    out: list[Segment] = []
    for segment in segments:
        if not isinstance(segment, str):
            out.append(segment)
            continue
        pieces = segment.split(quoted)
        for i, piece in enumerate(pieces):
            if i:
                out += ['"', Var(variable), '"']
            out.append(piece)
    return [s for s in _merge(out) if s != ""]


def _merge(segments: list[Any]) -> list[Any]:
    """Adjacent literal texts joined, so that each reads as one quoted piece."""
    out: list[Any] = []
    for segment in segments:
        if isinstance(segment, str) and out and isinstance(out[-1], str):
            out[-1] += segment
        else:
            out.append(segment)
    return out


def _variables(words: Words) -> set[str]:
    parts = [*words.url, *(s for _, h in words.headers for s in h), *words.body]
    return {p.name for p in parts if isinstance(p, Var)}


# --- writing the command ----------------------------------------------------------------------


def _command(number: int, exchange: Any, words: Words) -> Command:
    request: httpx.Request = exchange.request
    response: httpx.Response | None = exchange.response
    answered = (f"answered {response.status_code}" if response is not None
                else f"no answer ({exchange.error})" if getattr(exchange, "error", None)
                else "no answer")
    path = request.url.raw_path.decode("ascii", "replace")
    summary = f"{request.method} {path.split('?')[0]}, {answered}"

    args = ["curl", "-sS", "-i"]
    if re.search(r"[][{}]", str(request.url)):
        args.append("--globoff")  # brackets and braces are part of the URL, not a curl pattern
    if re.search(r"(^|/)\.\.?(/|$)", path.split("?")[0]):
        args.append("--path-as-is")  # curl would resolve the dot segments the suite sent
    if words.method == "HEAD":
        args.append("--head")
    elif words.method != "GET" or words.body:
        args += ["-X", shlex.quote(words.method)]
    args.append(_word(words.url))
    has_type = False
    for name, segments in words.headers:
        has_type = has_type or name.lower() == "content-type"
        if len(segments) == 1 and segments[0] == "":
            args += ["-H", shlex.quote(f"{_title(name)};")]  # curl's way to send an empty header
        else:
            args += ["-H", _word([f"{_title(name)}: ", *segments])]
    stdin = None
    if words.body or words.method in ("POST", "PUT", "PATCH"):
        if not has_type:
            args += ["-H", shlex.quote("Content-Type:")]  # curl would add a form type
        if _inline(words.body):
            args += ["--data-raw", _word(words.body or [""])]
        else:
            args += ["--data-binary", "@-"]
            stdin = _printed(words.body)
    text = " ".join(args)
    if stdin:
        text = f"{stdin} | {text}"
    return Command(number, summary, text, tuple(sorted(_variables(words))))


def _title(name: str) -> str:
    """Content-Type rather than content-type: the same header (names ignore case), easier read."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _inline(body: list[Segment]) -> bool:
    """Short printable text, no long runs: readable as one --data-raw argument."""
    data = b"".join(_raw(p) for p in body if isinstance(p, str))
    return len(data) <= INLINE_LIMIT and all(n is None for _, n in _runs(data)) and all(
        c.isprintable() or c in "\n\t" for p in body if isinstance(p, str) for c in p)


def _word(segments: Sequence[Segment]) -> str:
    """One shell word: literal text single-quoted, variables double-quoted, side by side.

    When no literal part needs single quotes against double ones, the whole word is written in
    double quotes ("Authorization: Bearer $ACCESS_TOKEN"), which reads more easily.
    """
    segments = _merge([s for s in segments if s != ""])
    literals = [s for s in segments if isinstance(s, str)]
    if any(isinstance(s, Var) for s in segments) and all(
        not re.search(r'["$`\\!]', s) for s in literals
    ):
        out = ""
        for i, s in enumerate(segments):
            if isinstance(s, Var):
                following = segments[i + 1] if i + 1 < len(segments) else ""
                glued = isinstance(following, str) and SHELL_NAME.match(following[:1])
                out += f"${{{s.name}}}" if glued else f"${s.name}"
            else:
                out += s
        return f'"{out}"'
    return "".join(f'"${s.name}"' if isinstance(s, Var) else shlex.quote(s)
                   for s in segments) or "''"


def _printed(body: list[Segment]) -> str:
    """A shell group that writes the body's exact bytes to its standard output."""
    parts = []
    for segment in body:
        if isinstance(segment, Var):
            parts.append(f"printf '%s' \"${segment.name}\"")
            continue
        for byte, run in _runs(_raw(segment)):
            if run is not None:
                parts.append(f"head -c {run} /dev/zero | tr '\\0' '{_octal(byte)}'")
            else:
                parts.append(f"printf '{''.join(_octal(b) for b in byte)}'")
    return "{ " + "; ".join(parts) + "; }"


def _runs(data: bytes) -> list[tuple[bytes, int | None]]:
    """The bytes as (chunk, None) spelled out, or (one byte, N) for a run of N of it."""
    out: list[tuple[bytes, int | None]] = []
    plain = bytearray()
    i = 0
    while i < len(data):
        j = _run_end(data, i)
        if j - i >= RUN_LIMIT:
            if plain:
                out.append((bytes(plain), None))
                plain = bytearray()
            out.append((data[i:i + 1], j - i))
        else:
            plain += data[i:j]
        i = j
    if plain:
        out.append((bytes(plain), None))
    return out


def _run_end(data: bytes, i: int) -> int:
    """Where the run of data[i] starting at i ends. A long run (an oversized body is megabytes of
    one byte) is crossed by comparing slices that double, then halve, in size: stepping a byte at
    a time took most of a second per replay."""
    j, step = i + 1, 1
    if j == len(data) or data[j] != data[i]:
        return j  # the usual case, kept cheap
    byte = data[i:j]
    while step:
        if data[j:j + step] == byte * step:
            j += step
            step *= 2
        else:
            step //= 2
    return j


def _octal(byte: int | bytes) -> str:
    """One byte as printf and tr read it: itself if it is plain ASCII, else its octal escape."""
    value = byte if isinstance(byte, int) else byte[0]
    char = chr(value)
    if 0x20 <= value < 0x7F and char not in "%\\'":
        return char
    return f"\\{value:03o}"

