"""lgucore.fields.project on both twins: the field-projection rules, bad input, differential."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgucore import fields as _project

FIELD_TEXT, FIELD_INT, FIELD_FLAG = _project.FIELD_TEXT, _project.FIELD_INT, _project.FIELD_FLAG
SPEC = {"A": ("a", FIELD_TEXT), "N": ("n", FIELD_INT), "F": ("f", FIELD_FLAG)}
TWINS = {"py": _project.py.project}
if _project.c is not None:
    TWINS["c"] = _project.c.project


def reference(fields, spec):
    """The rules written the slow, obvious way."""
    out = {}
    for key, value in fields:
        if key is None or key not in spec:
            continue
        name, kind = spec[key]
        if name in out:
            continue
        if value is None or value in ("", "null"):
            out[name] = None
        elif kind == FIELD_TEXT:
            out[name] = value
        elif kind == FIELD_INT:
            try:
                n = int(value)
            except ValueError:
                n = None
            out[name] = n if n is not None and -2 ** 63 <= n < 2 ** 63 else None
        else:
            out[name] = value == "1"
    return out


@pytest.fixture(params=sorted(TWINS))
def project(request):
    return TWINS[request.param]


@pytest.mark.parametrize("fields, expected", [
    ((("A", "x"), ("A", "y")), {"a": "x"}),                    # the first value wins
    ((("A", ""), ("A", "y")), {"a": None}),                    # ... even an empty one
    ((("A", "null"),), {"a": None}),
    ((("N", "42"),), {"n": 42}),
    ((("N", "-7"),), {"n": -7}),
    ((("N", "4x"),), {"n": None}),                             # not a number
    ((("N", "9" * 5000),), {"n": None}),                       # beyond int()'s digit limit
    ((("N", str(2 ** 63 - 1)),), {"n": 2 ** 63 - 1}),          # signed 64 bits, both ends
    ((("N", str(-2 ** 63)),), {"n": -2 ** 63}),
    ((("N", str(2 ** 63)),), {"n": None}),                     # one past them: not a number
    ((("N", str(-2 ** 63 - 1)),), {"n": None}),
    ((("N", "9" * 19),), {"n": None}),
    ((("N", "1" * 18),), {"n": int("1" * 18)}),                # (the compiled fast path's longest)
    ((("F", "1"),), {"f": True}),
    ((("F", "0"),), {"f": False}),
    ((("F", ""),), {"f": None}),
    (((None, "A"), ("Z", "1")), {}),                           # positional and unknown fields skipped
    ((), {}),
])
def test_rules(project, fields, expected):
    out = {"keep": 1}
    project(fields, SPEC, out)
    assert out == dict(expected, keep=1)


def test_any_iterable_of_pairs(project):
    out = {}
    project([("A", "x")], SPEC, out)
    project(iter([("N", "1")]), SPEC, out)
    assert out == {"a": "x", "n": 1}


@pytest.mark.parametrize("fields", [(("A",),), (("A", "x", "y"),), ("Ax",), (["A", "x"],), (None,)])
def test_bad_pairs_raise_type_error(project, fields):
    with pytest.raises(TypeError, match="pairs"):
        project(fields, SPEC, {})


def test_bad_kind_and_arguments(project):
    with pytest.raises(ValueError, match="unknown field kind"):
        project((("A", "x"),), {"A": ("a", 9)}, {})
    with pytest.raises(TypeError):
        project((("A", "x"),), None, {})
    with pytest.raises(TypeError):
        project((("A", "x"),), SPEC, None)


_keys = st.sampled_from(["A", "N", "F", "Z", None])
_values = st.one_of(st.sampled_from(["", "null", "1", "0", "12", "x", "-3", " 5 ", str(2 ** 63), str(-2 ** 63)]),
                    st.text(max_size=8), st.integers(-2 ** 70, 2 ** 70).map(str))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(_keys, _values), max_size=12))
def test_twins_agree_with_the_reference(fields):
    expected = reference(fields, SPEC)
    for p in TWINS.values():
        out = {}
        p(tuple(fields), SPEC, out)
        assert out == expected


class _Plain:
    pass


class _Slotted:
    __slots__ = ("a",)


@pytest.fixture(params=sorted(TWINS))
def build(request):
    return (_project.py.build if request.param == "py" else _project.c.build)


def test_build_makes_an_instance_without_init(build):
    class Ev:
        def __init__(self):
            raise AssertionError("__init__ must not run")

    base = {"a": None, "n": None, "kept": 1}
    ev = build(Ev, base, SPEC, (("A", "x"), ("N", "5"), ("A", "y")))
    assert type(ev) is Ev and ev.__dict__ == {"a": "x", "n": 5, "kept": 1}
    assert base == {"a": None, "n": None, "kept": 1}  # the base is copied, never changed


def test_build_refuses_what_it_cannot_make(build):
    with pytest.raises(TypeError):
        build("notaclass", {}, SPEC, ())
    with pytest.raises(TypeError):
        build(_Plain, None, SPEC, ())
    with pytest.raises(AttributeError):
        build(_Slotted, {}, SPEC, ())  # no __dict__ to fill
    with pytest.raises(TypeError):
        build(int, {}, SPEC, ())  # object.__new__(int) is not allowed
    with pytest.raises(TypeError, match="pairs"):
        build(_Plain, {}, SPEC, (("A",),))


# --- Builder: the checked, reusable form of build (what typed events are made with) ---------

BASE = {"name": "EV", "a": None, "n": None, "f": None, "raw": "", "ts": None}


@pytest.fixture(params=sorted(TWINS))
def builder(request):
    return (_project.py.Builder if request.param == "py" else _project.c.Builder)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_keys, _values), max_size=12), st.text(max_size=6), st.floats(allow_nan=False))
def test_builder_twins_agree_with_build(fields, raw, ts):
    """Attributes, values and their order: build()'s dict, then the extra values."""
    expected = dict(BASE)
    expected.update(reference(fields, SPEC))
    expected.update(raw=raw, ts=ts)
    for twin in ([_project.py] + ([_project.c] if _project.c is not None else [])):
        obj = twin.Builder(_Plain, BASE, SPEC, ("raw", "ts")).build(tuple(fields), (raw, ts))
        assert type(obj) is _Plain
        assert list(obj.__dict__.items()) == list(expected.items())


def test_builder_skips_init_and_setattr_and_copies_its_arguments(builder):
    class Frozen:
        def __init__(self):
            raise AssertionError("__init__ must not run")

        def __setattr__(self, name, value):
            raise AttributeError("frozen")

    base = dict(BASE)
    spec = dict(SPEC)
    b = builder(Frozen, base, spec, ["raw"])
    base["a"] = "changed"
    spec["A"] = ("n", FIELD_INT)
    obj = b.build([("A", "x"), ("N", "5"), ("A", "y")], ("text",))
    assert obj.__dict__ == dict(BASE, a="x", n=5, raw="text")
    assert b.cls is Frozen and b.extra == ("raw",)


def test_builder_refuses_what_it_cannot_make(builder):
    with pytest.raises(TypeError):
        builder("notaclass", BASE, SPEC)
    with pytest.raises(TypeError):
        builder(_Slotted, BASE, SPEC)  # no __dict__ to fill
    with pytest.raises(TypeError):
        builder(int, BASE, SPEC)  # needs its own constructor
    with pytest.raises(TypeError):
        builder(_Plain, None, SPEC)
    with pytest.raises(TypeError, match="spec values"):
        builder(_Plain, BASE, {"A": "a"})
    with pytest.raises(ValueError, match="unknown field kind"):
        builder(_Plain, BASE, {"A": ("a", 9)})
    with pytest.raises(ValueError, match="missing from base: nope"):
        builder(_Plain, BASE, {"A": ("nope", FIELD_TEXT)})
    with pytest.raises(ValueError, match="missing from base: other"):
        builder(_Plain, BASE, SPEC, ("other",))
    with pytest.raises(TypeError, match="at most 8"):
        builder(_Plain, {str(i): None for i in range(9)}, {}, tuple(str(i) for i in range(9)))
    with pytest.raises(ValueError, match="at most 64 attributes"):
        builder(_Plain, {f"x{i}": None for i in range(65)}, {})
    with pytest.raises(TypeError, match="attribute names"):
        builder(_Plain, {1: None}, {})


def test_builder_checks_each_build(builder):
    b = builder(_Plain, BASE, SPEC, ("raw", "ts"))
    with pytest.raises(TypeError, match="2 extra values"):
        b.build((), ("only one",))
    with pytest.raises(TypeError):
        b.build((), ["raw", 1.0])  # a tuple, not a list
    with pytest.raises(TypeError, match="pairs"):
        b.build((("A",),), ("r", 1.0))
    assert b.build((("A", "ok"),), ("r", 1.0)).a == "ok"  # a failed build leaves the Builder whole


def test_builder_bounds_are_exact(builder):
    base = {f"x{i}": i for i in range(64)}
    extra = tuple(f"x{i}" for i in range(8))
    obj = builder(_Plain, base, {}, extra).build((), tuple(range(100, 108)))
    assert list(obj.__dict__.values()) == list(range(100, 108)) + list(range(8, 64))


def test_builder_untracks_only_what_holds_plain_values(builder):
    """Strings, numbers, booleans and None hold no references: the compiled twin leaves such an
    instance out of the garbage collector's sight (the pure twin cannot; values are the same).
    An instance holding a container stays tracked, so a cycle through it is collected."""
    import gc
    import weakref

    b = builder(_Plain, BASE, SPEC, ("raw", "ts"))
    plain = b.build((("A", "x"), ("N", "7"), ("F", "1")), ("r", 1.5))
    assert gc.is_tracked(plain) is (builder is _project.py.Builder)
    holder = b.build((), ([], 1.5))
    assert gc.is_tracked(holder)
    holder.raw.append(holder)
    ref = weakref.ref(holder)
    del holder
    gc.collect()
    assert ref() is None


_wire_keys = st.sampled_from(["A", "N", "F", "Z", "가", ""])
_wire_values = st.one_of(st.sampled_from(["", "null", "1", "0", "12", "-3", "x:y", "9" * 30, "값", "\x7f"]),
                         st.text(alphabet=st.characters(blacklist_characters="|\x00"), max_size=6))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_wire_keys, _wire_values), max_size=10), st.sampled_from(["cp949", "utf-8"]))
def test_builder_reads_a_message_as_its_fields(pairs, charset):
    """A tokenized message (its fields not decoded yet, on the compiled twin) builds exactly what
    its decoded fields build; non-ASCII keys and values, repeats and positional fields included."""
    from lgucore import implementations

    body = "EV|" + "|".join(f"{k}:{v}" if k else v for k, v in pairs)
    raw = body.encode(charset, "replace")
    # ASCII keys only (compared as bytes) and a non-ASCII key (compared as strings)
    for spec in (SPEC, dict(SPEC, **{"가": ("a", FIELD_TEXT)})):
        for name, impl in implementations().items():
            twin = _project.py if name == "py" else _project.c
            b = twin.Builder(_Plain, BASE, spec, ("raw",))
            msg = impl.tokenize(raw, charset=charset)
            lazy = b.build(msg, ("r",)).__dict__
            assert lazy == b.build(impl.tokenize(raw, charset=charset).fields, ("r",)).__dict__
            assert lazy == b.build(msg.fields, ("r",)).__dict__  # the same message, decoded now


def test_builder_is_not_pickled(builder):
    """A Builder is made again where it is needed (the compiled one holds pointers into itself)."""
    import pickle

    with pytest.raises((TypeError, pickle.PicklingError, AttributeError)):
        pickle.dumps(builder(_Plain, BASE, SPEC))


def test_builder_with_more_keys_than_attributes(builder):
    """Many keys may name one attribute; past 64 keys the compiled twin reads decoded fields."""
    spec = {f"K{i}": ("a", FIELD_TEXT) for i in range(100)}
    b = builder(_Plain, BASE, spec)
    from lgucore import implementations

    for impl in implementations().values():
        assert b.build(impl.tokenize(b"EV|Z:1|K99:last|K7:first")).a == "last"
