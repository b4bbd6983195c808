"""Channel and unique-id normalisation shared by the client, the tracker and the monitor."""
from lguapi.channels import channel_peer, normalize_channel, normalize_unique_id, same_channel


def test_local_halves_are_one_channel():
    for a, b in [("Local/3458@xfercontext-1b56;1", "Local/3458@xfercontext-1b56;2"),
                 ("Local/1y669211@default-1b56,1", "Local/1y669211@default-1b56;2")]:
        assert same_channel(a, b)
        assert normalize_channel(a) == normalize_channel(b)
    assert not same_channel("SIP/3321-09b559d8", "SIP/3321-09b4afc0")
    assert not same_channel(None, None) and not same_channel("", "")


def test_peers_and_unique_ids():
    assert channel_peer("SIP/3321-09b559d8") == "3321"
    assert channel_peer("SIP/101t4004-bc621") == "101t4004"
    assert channel_peer("SIP/gw2.eicn-09b25a90") == "gw2.eicn"
    assert channel_peer("Local/3458@xfercontext-1b56;2") == "3458"
    assert normalize_unique_id("1449825958,4879172") == "1449825958.4879172"
    assert normalize_unique_id("") is None


def _own_reference(exten, a, b):
    """The own-channel rule written plainly on channel_peer (what own_channel must equal)."""
    if not exten:
        return None
    pa = channel_peer(a) if a is not None else None
    pb = channel_peer(b) if b is not None else None
    if pa == exten:
        return b if pb == exten and a.startswith("Local/") and not b.startswith("Local/") else a
    if pb == exten:
        return b
    if len(exten) >= 3:
        if pa is not None and pa.endswith(exten):
            return a
        if pb is not None and pb.endswith(exten):
            return b
    return None


def test_own_channel_equals_the_plain_rule_on_odd_names():
    import random

    from lguapi.channels import own_channel

    rng = random.Random(8)
    parts = ["SIP/", "Local/", "IAX2/", "", "3321", "33", "1003321", "-", "@", "x", "21", "-0a", ";2", "gw.e", "/"]
    for _ in range(20_000):
        a, b = (("".join(rng.choice(parts) for _ in range(rng.randint(0, 5))) if rng.random() < 0.9 else None)
                for _ in range(2))
        exten = rng.choice(["3321", "21", "1003321", "", "x"])
        assert own_channel(exten, a, b) == _own_reference(exten, a, b), (exten, a, b)


def _peer_reference(channel):
    """channel_peer written plainly: what follows the first slash, up to a Local channel's
    ``@`` or else up to the last dash (when something comes before it)."""
    rest = channel.split("/", 1)[1] if "/" in channel else channel
    if channel.startswith("Local/") and "@" in rest:
        return rest.split("@", 1)[0]
    head, dash, _ = rest.rpartition("-")
    return head if dash and head else rest


def test_channel_peer_equals_the_plain_rule_on_odd_names():
    """channel_peer slices the name once; the pure module and the tracker's compiled copy of it
    (lguapi.calls._c.core, when built) both give what the plain rule gives."""
    import random

    from lguapi.calls import _twin

    peers = [channel_peer]
    if _twin.COMPILED:
        from lguapi.calls._c import core
        peers.append(core.channel_peer)
    rng = random.Random(9)
    parts = ["SIP/", "Local/", "", "3321", "-", "--", "@", "/", "x", "-0a", ";2", "gw2.eicn", "@ctx-1b56"]
    for _ in range(20_000):
        ch = "".join(rng.choice(parts) for _ in range(rng.randint(0, 6)))
        want = _peer_reference(ch)
        for peer in peers:
            assert peer(ch) == want, (peer, ch)
