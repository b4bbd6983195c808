"""The event tokenizer (docs/protocol.md §3, §4.2) on both twins: grammar, text, Message API, differential."""
from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgucore import tokens as _tokens

PY = _tokens.py

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# bytes biased towards the grammar's delimiters, cp949/utf-8 lead and trail bytes and invalid ones
_ATOMS = [b"|", b":", b"(", b")", b" ", b"  ", b"A", b"KEY", b"1", b"null", b"\xb0\xa1", b"\xc5\xd7",
          b"\xea\xb0\x80", b"\xff", b"\x80", b"\x81", b"\xb0", b"\n", b"@@", b"|X:", b"RES:"]
grammar_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(_ATOMS), max_size=80).map(b"".join),
)


# ---------------------------------------------------------------- grammar

@pytest.mark.parametrize("body,name,fields", [
    (b"CMDRESULT|CMD:X|RES:value:with:colon", "CMDRESULT", (("CMD", "X"), ("RES", "value:with:colon"))),
    (b"CMDRESULT|CMD:GETPEERINFO|3456:OK:CONN", "CMDRESULT", (("CMD", "GETPEERINFO"), ("3456", "OK:CONN"))),
    (b"RINGEVENT|INEXTEN:|INEXTEN:null", "RINGEVENT", (("INEXTEN", ""), ("INEXTEN", "null"))),
    (b"A|:x|y|", "A", (("", "x"), (None, "y"), (None, ""))),
    (b"A||B", "A", ((None, ""), (None, "B"))),
    (b"|K:V", "", (("K", "V"),)),
    (b"CMD|HANGUP|SIP/3584-09fb3350", "CMD", ((None, "HANGUP"), (None, "SIP/3584-09fb3350"))),
    (b"N|K:a(b|c)d|L:e", "N", (("K", "a(b|c)d"), ("L", "e"))),
    (b"N|K:((x|y)|z)|L:1", "N", (("K", "((x|y)|z)"), ("L", "1"))),
    (b"N|K:a)b|c", "N", (("K", "a)b"), (None, "c"))),          # a stray ')' changes nothing
    (b"N|K:a(b|c", "N", (("K", "a(b|c"),)),                      # an unclosed '(' keeps the rest
    (b"N(x|y)", "N(x|y)", ()),                                   # no '|' outside parentheses: legacy form
    (b"N K:(a|b) L:c", "N", (("K", "(a|b)"), ("L", "c"))),
    (b"N|K:a b  c", "N", (("K", "a b  c"),)),                    # spaces belong to pipe-form values
    (b"", "", ()),
    (b"PING", "PING", ()),
    (b"   ", "", ()),
])
def test_pipe_and_paren_grammar(impl, body, name, fields):
    m = impl.tokenize(body)
    assert (m.name, m.fields) == (name, fields)


@pytest.mark.parametrize("body,name,fields", [
    (b"CMDRESULT CMD:MONITOR ACT:STOP RES:OK", "CMDRESULT", (("CMD", "MONITOR"), ("ACT", "STOP"), ("RES", "OK"))),
    ("RECVSMS FROM:010xxxx0850 MESSAGE: 테스트 123acvh SMSTO:070xxxx9812".encode("cp949"), "RECVSMS",
     (("FROM", "010xxxx0850"), ("MESSAGE", "테스트 123acvh"), ("SMSTO", "070xxxx9812"))),
    (b"  N   A:1   b   c  B:", "N", (("A", "1   b   c"), ("B", ""))),    # spacing between words kept
    (b"N a b K:v", "N", ((None, "a b"), ("K", "v"))),        # no previous field: positional, then continued
    (b"N K: : x", "N", (("K", ""), ("", "x"))),
    (b"N K:v w:", "N", (("K", "v"), ("w", ""))),
    (b"N K:1 K:2", "N", (("K", "1"), ("K", "2"))),
])
def test_legacy_space_form(impl, body, name, fields):
    m = impl.tokenize(body)
    assert (m.name, m.fields) == (name, fields)


def test_same_field_bytes_in_both_forms(impl):
    # "K: a" is K=" a" in pipe form but K="a" in legacy form (continuation word);
    # repeated, so that any cache of decoded fields would be hit
    for _ in range(3):
        assert impl.tokenize(b"N K: a").fields == (("K", "a"),)
        assert impl.tokenize(b"N|K: a").fields == (("K", " a"),)
        assert impl.tokenize(b"N|K:a").fields == (("K", "a"),)


def test_long_bodies_cross_every_scan_window(impl):
    # the compiled scanner works in 64-byte windows: put delimiters on every boundary
    for width in range(1, 140):
        value = "v" * width
        body = "|".join(["NAME"] + [f"K{i}:{value}:{i}" for i in range(5)] + ["POS"]).encode()
        m = impl.tokenize(body)
        assert m.fields == tuple((f"K{i}", f"{value}:{i}") for i in range(5)) + ((None, "POS"),)
        assert m.get("K4") == f"{value}:4"


# ---------------------------------------------------------------- text

def test_cp949_and_utf8(impl):
    text = "RECVPEERMSG|FROM:3458|MSG:우리는 민족"
    assert impl.tokenize(text.encode("cp949")).get("MSG") == "우리는 민족"
    assert impl.tokenize(text.encode("utf-8"), charset="utf-8").get("MSG") == "우리는 민족"
    assert impl.tokenize(text.encode("euc-kr"), charset="euc-kr").get("MSG") == "우리는 민족"


@pytest.mark.parametrize("charset,body,value", [
    ("cp949", b"E|K:\xff", "\ufffd"),
    ("cp949", b"E|K:a\xb0", "a\ufffd"),            # a lead byte cut short
    ("cp949", b"E|K:\xb0\xa1\xb0", "가\ufffd"),
    ("utf-8", b"E|K:\xea\xb0", "\ufffd"),
    ("utf-8", b"E|K:\xc3\x28", "\ufffd("),
    ("utf-8", b"E|K:\xed\xa0\x80", "\ufffd\ufffd\ufffd"),   # a surrogate is not UTF-8
])
def test_bad_bytes_become_replacement_characters(impl, charset, body, value):
    m = impl.tokenize(body, charset=charset)
    assert m.get("K") == value
    assert m.raw == body


def test_a_broken_multibyte_sequence_never_swallows_a_delimiter(impl):
    # 0xB0 is a cp949 lead byte; the '|' after it still splits
    m = impl.tokenize(b"E|A:\xb0|B:2")
    assert m.fields == (("A", "\ufffd"), ("B", "2"))


@given(body=grammar_bytes)
@SETTINGS
def test_tokenize_never_raises_and_keeps_the_body(body):
    for mod in (PY, _tokens.c or PY):
        for cs in ("cp949", "utf-8"):
            m = mod.tokenize(body, charset=cs)
            assert m.raw == body
            assert isinstance(m.name, str) and all(isinstance(v, str) for _, v in m.fields)


def test_unknown_charset_is_a_value_error(impl):
    with pytest.raises(ValueError, match="unknown charset"):
        impl.tokenize(b"X|A:1", charset="no-such-charset")


def test_non_text_codec_fails_like_the_pure_twin(impl):
    # rot13 is a str-to-str codec: bytes.decode refuses it, but only for a non-ASCII piece
    assert impl.tokenize(b"X|A:1", charset="rot13").get("A") == "1"
    with pytest.raises(LookupError):
        impl.tokenize(b"X|A:\xb0\xa1", charset="rot13")


def test_any_bytes_like_body(impl):
    body = b"CMDRESULT|CMD:HOLD|RES:OK"
    ref = impl.tokenize(body)
    for form in (bytearray(body), memoryview(body), memoryview(b"xx" + body)[2:]):
        m = impl.tokenize(form)
        assert m == ref and type(m.raw) is bytes and m.raw == body
    with pytest.raises(TypeError):
        impl.tokenize("CMDRESULT|CMD:HOLD")


def test_raw_is_a_copy_of_a_mutable_body(impl):
    buf = bytearray(b"E|K:1")
    m = impl.tokenize(buf)
    buf[4:5] = b"2"
    assert m.get("K") == "1" and m.raw == b"E|K:1"


# ---------------------------------------------------------------- Message API

def test_message_api(impl):
    m = impl.tokenize(b"CMDRESULT|CMD:SENDPEERMSG|3458:OK|3457:NOT|3458:DUP|pos")
    assert m.name == "CMDRESULT"
    assert m.get("3458") == "OK"                       # the first of a repeated key
    assert m.getall("3458") == ["OK", "DUP"]
    assert m.getall(None) == ["pos"]
    assert m.get(None) == "pos"
    assert m.get("NOPE") is None and m.get("NOPE", "d") == "d"
    assert "3457" in m and "NOPE" not in m and None in m
    assert m.to_dict() == {"CMD": "SENDPEERMSG", "3458": "OK", "3457": "NOT"}
    assert m.fields == (("CMD", "SENDPEERMSG"), ("3458", "OK"), ("3457", "NOT"), ("3458", "DUP"), (None, "pos"))
    assert repr(m) == f"Message('CMDRESULT', {m.fields!r})"


def test_lookups_before_and_after_fields_agree(impl):
    body = b"N|K:1|\xb0\xa1:2|K:4|x|\xff:5"
    for probe in ("K", "가", "\ufffd", "x", None, "", 1, "N"):
        lazy = impl.tokenize(body)
        answer = (lazy.get(probe, "-"), probe in lazy)
        eager = impl.tokenize(body)
        eager.fields
        assert answer == (eager.get(probe, "-"), probe in eager)
    assert impl.tokenize(body).get("가") == "2"
    assert impl.tokenize(body).get("\ufffd") == "5"


def test_equality_hash_and_both_twins(impl):
    body = b"RINGEVENT|ISDIAL:0|INEXTEN:"
    a, b = impl.tokenize(body), PY.tokenize(body)
    assert a == b and b == a and not (a != b)
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != impl.tokenize(b"RINGEVENT|ISDIAL:1|INEXTEN:")
    assert a != "RINGEVENT" and a != ("RINGEVENT", a.fields)
    built = impl.Message("RINGEVENT", [("ISDIAL", "0"), ("INEXTEN", "")], body)
    assert built == a and built.raw == body and built.fields == a.fields
    assert impl.Message("X", []).raw == b""


@pytest.mark.parametrize("lazy", [True, False])
def test_pickle_and_copy(impl, lazy):
    m = impl.tokenize("RECVPEERMSG|FROM:3458|MSG:우리는 민족".encode("cp949"))
    if not lazy:
        m.fields
    for other in (pickle.loads(pickle.dumps(m)), copy.copy(m), copy.deepcopy(m)):
        assert other == m and other.raw == m.raw and type(other) is type(m)


def test_message_class_is_the_one_tokenize_returns(impl):
    assert type(impl.tokenize(b"A|B:1")) is impl.Message
    assert impl.Message.__name__ == "Message"


# ---------------------------------------------------------------- differential

@given(body=grammar_bytes, charset=st.sampled_from(["cp949", "utf-8", "latin-1", "euc-kr"]))
@SETTINGS
def test_twins_agree(body, charset):
    c = _tokens.c or PY
    a, b = c.tokenize(body, charset=charset), PY.tokenize(body, charset=charset)
    assert (a.name, a.fields, a.raw) == (b.name, b.fields, b.raw)
    a = c.tokenize(body, charset=charset)
    assert a.to_dict() == b.to_dict()
    a = c.tokenize(body, charset=charset)
    for key in {k for k, _ in b.fields} | {"K", "RES"}:
        assert a.get(key, "-") == b.get(key, "-")
        assert a.getall(key) == b.getall(key)
        assert (key in a) == (key in b)
