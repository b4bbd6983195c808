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
