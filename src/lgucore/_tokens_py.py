"""Pure-Python event tokenizer (docs/protocol.md §3, §4.2): the reference twin of ``_tokens_c``.

The grammar works on bytes, never on decoded text: every delimiter (``|``, ``:``,
``(``, ``)``, space) is ASCII and cannot be the trail byte of a cp949 character, so
splitting first and decoding each piece after is exact, and a broken multibyte
sequence can never swallow a delimiter. Each piece decodes with ``errors="replace"``:
tokenizing never raises on text.

Rules, in order:

* A body with a ``|`` outside parentheses is in **pipe form**: pieces are split at
  every ``|`` of parenthesis depth 0; the first piece is the name, every other piece
  splits at its **first** ``:`` into key and value, and a piece without ``:`` is a
  positional field (key ``None``). Empty pieces are kept as empty positional fields.
* Otherwise it is in **legacy space form**: words are runs of non-space bytes; the
  first word is the name; a word with ``:`` starts a field (first-colon split); a word
  without ``:`` continues the previous field's value, which then runs from its first
  non-empty word to the end of this word (the spacing in between is kept as sent, so
  single-spaced text reads "joined by one space"); with no previous field it is a
  positional field.
"""
from __future__ import annotations

__all__ = ["Message", "tokenize", "scan"]

_PIPE = 0x7C
_COLON = 0x3A
_SPACE = 0x20
_LPAR = 0x28
_RPAR = 0x29


def _check_charset(charset: str) -> str:
    import codecs

    try:
        return codecs.lookup(charset).name
    except LookupError:
        raise ValueError(f"unknown charset {charset!r}") from None


def scan(body, start: int = 0, end: int | None = None):
    """Return the spans of one body: ``(name_start, name_end, fields)``.

    ``fields`` is a list of ``(key_start, key_end, value_start, value_end)`` with
    ``key_start == key_end == -1`` for a positional field.
    Offsets are absolute in ``body``. This is the grammar itself; both
    :func:`tokenize` and the batch tokenizer are built on it.
    """
    if end is None:
        end = len(body)
    mv = body if isinstance(body, (bytes, bytearray)) else bytes(body)
    has_paren = mv.find(b"(", start, end) >= 0
    if has_paren:
        cuts = []
        depth = 0
        for i in range(start, end):
            c = mv[i]
            if c == _LPAR:
                depth += 1
            elif c == _RPAR:
                if depth:
                    depth -= 1
            elif c == _PIPE and depth == 0:
                cuts.append(i)
    else:
        cuts = []
        i = mv.find(b"|", start, end)
        while i >= 0:
            cuts.append(i)
            i = mv.find(b"|", i + 1, end)
    fields = []
    if cuts:
        name_end = cuts[0]
        cuts.append(end)
        for j in range(len(cuts) - 1):
            s = cuts[j] + 1
            e = cuts[j + 1]
            c = mv.find(b":", s, e)
            if c < 0:
                fields.append((-1, -1, s, e))
            else:
                fields.append((s, c, c + 1, e))
        return start, name_end, fields
    # legacy space form
    i = start
    while i < end and mv[i] == _SPACE:
        i += 1
    name_start = i
    j = mv.find(b" ", i, end)
    if j < 0:
        j = end
    name_end = j
    i = j
    while i < end:
        while i < end and mv[i] == _SPACE:
            i += 1
        if i >= end:
            break
        j = mv.find(b" ", i, end)
        if j < 0:
            j = end
        c = mv.find(b":", i, j)
        if c >= 0:
            fields.append((i, c, c + 1, j))
        elif fields:
            ks, ke, vs, ve = fields[-1]
            if vs == ve:
                vs = i
            fields[-1] = (ks, ke, vs, j)
        else:
            fields.append((-1, -1, i, j))
        i = j
    return name_start, name_end, fields


def _decoder(charset: str):
    def dec(b: bytes) -> str:
        if b.isascii():
            return b.decode("ascii")
        return b.decode(charset, "replace")

    return dec


class Message:
    """One tokenized event: ``name``, ordered ``fields`` and the ``raw`` body bytes.

    ``fields`` is a tuple of ``(key, value)`` string pairs in wire order; ``key`` is
    ``None`` for a positional field and a repeated key keeps every value. Equality is
    by ``name`` and ``fields`` (a compiled and a pure message compare equal).

    >>> m = tokenize(b"CMDRESULT|CMD:HOLD|RES:OK")
    >>> m.name, m.get("RES")
    ('CMDRESULT', 'OK')
    """

    __slots__ = ("name", "fields", "raw")

    def __init__(self, name: str, fields, raw: bytes = b"") -> None:
        self.name = name
        self.fields = tuple(fields)
        self.raw = raw

    def get(self, key: str, default=None):
        """The first value of ``key``, or ``default``."""
        for k, v in self.fields:
            if k == key:
                return v
        return default

    def getall(self, key: str) -> list:
        """Every value of ``key``, in order (``None`` selects the positional fields)."""
        return [v for k, v in self.fields if k == key]

    def __contains__(self, key) -> bool:
        return any(k == key for k, _ in self.fields)

    def to_dict(self) -> dict:
        """Keys to their first value; positional fields are left out."""
        d: dict = {}
        for k, v in self.fields:
            if k is not None and k not in d:
                d[k] = v
        return d

    def __eq__(self, other):
        if type(other).__name__ != "Message" or not hasattr(other, "fields"):
            return NotImplemented
        return self.name == other.name and tuple(self.fields) == tuple(other.fields)

    def __hash__(self):
        return hash((self.name, self.fields))

    def __repr__(self) -> str:
        return f"Message({self.name!r}, {self.fields!r})"

    def __reduce__(self):
        return (Message, (self.name, self.fields, self.raw))


def build_message(mv, ns, ne, fields, dec, raw) -> Message:
    """Decode the spans that :func:`scan` found into a :class:`Message`."""
    name = dec(mv[ns:ne])
    out = []
    for ks, ke, vs, ve in fields:
        out.append((None if ks < 0 else dec(mv[ks:ke]), dec(mv[vs:ve])))
    return Message(name, out, raw)


def tokenize(body, *, charset: str = "cp949") -> Message:
    """Split one event body into a :class:`Message` (never raises on bad text).

    >>> tokenize(b"RINGEVENT|ISDIAL:0|INEXTEN:").fields
    (('ISDIAL', '0'), ('INEXTEN', ''))
    >>> tokenize(b"CMDRESULT CMD:MONITOR ACT:STOP RES:OK").get("ACT")
    'STOP'
    """
    dec = _decoder(_check_charset(charset))
    raw = bytes(body)
    ns, ne, fields = scan(raw)
    return build_message(raw, ns, ne, fields, dec, raw)
