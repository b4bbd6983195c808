"""Channel names and unique ids as servers write them (docs/protocol.md §4.5), normalised.

``Local/<exten>@<context>-<hex>;1`` and ``;2`` (or ``,1``/``,2``) are the two halves of one
channel; unique ids sometimes carry a comma for the dot. The client, the call tracker and
the monitor all compare channels through these functions.
"""
from __future__ import annotations

__all__ = ["normalize_channel", "normalize_unique_id", "channel_peer", "same_channel", "own_channel"]


def normalize_channel(channel: str | None) -> str | None:
    """The channel name both Local halves share: ``;1``/``;2``/``,1``/``,2`` removed.

    >>> normalize_channel("Local/1y669211@default-1b56,2")
    'Local/1y669211@default-1b56'
    """
    if not channel:
        return None
    last = channel[-1]
    if last == " " or channel[0] == " ":
        channel = channel.strip()
        if not channel:
            return None
        last = channel[-1]
    if (last == "1" or last == "2") and len(channel) > 2 and channel[-2] in ";,":
        return channel[:-2]
    return channel


def normalize_unique_id(unique_id: str | None) -> str | None:
    """A unique id with the dot some servers write as a comma: ``1449825958,4879172`` -> ``1449825958.4879172``."""
    if not unique_id:
        return None
    if unique_id[0] == " " or unique_id[-1] == " ":
        unique_id = unique_id.strip()
        if not unique_id:
            return None
    return unique_id.replace(",", ".") if "," in unique_id else unique_id


def channel_peer(channel: str) -> str:
    """The peer a channel belongs to: ``SIP/3321-09b559d8`` -> ``3321``,
    ``Local/3458@xfercontext-1b56;2`` -> ``3458``, ``SIP/gw2.eicn-09b25a90`` -> ``gw2.eicn``."""
    start = channel.find("/") + 1  # 0 when there is no slash
    if channel.startswith("Local/"):
        at = channel.find("@", start)
        if at >= 0:
            return channel[start:at]
    dash = channel.rfind("-", start)
    return channel[start:dash] if dash > start else channel[start:]  # one slice, no copy of the rest



def same_channel(a: str | None, b: str | None) -> bool:
    """True when ``a`` and ``b`` name one channel (the two halves of a Local channel included).

    >>> same_channel("Local/3458@xfercontext-1b56;1", "Local/3458@xfercontext-1b56,2")
    True
    """
    na = normalize_channel(a)
    return na is not None and na == normalize_channel(b)


def own_channel(exten: str | None, a: str | None, b: str | None) -> str | None:
    """Which of two channels is ``exten``'s own, by peer name, or None when neither is.

    The one rule the client and the call tracker share: an exact peer match wins over a
    suffix match (``SIP/10033447-…`` for 3447, extensions of 3+ characters); between a SIP
    and a Local channel of the same peer, the SIP one (the phone itself). Works on raw and
    normalised names alike.

    >>> own_channel("3321", "SIP/gw2.eicn-09b25a90", "SIP/3321-09b559d8")
    'SIP/3321-09b559d8'
    """
    if not exten:
        return None
    if a is not None and _is_peer(a, exten):
        if not (b is not None and a.startswith("Local/") and not b.startswith("Local/")
                and _is_peer(b, exten)):
            return a
    if b is not None and _is_peer(b, exten):
        return b
    if len(exten) >= 3:
        if a and channel_peer(a).endswith(exten):
            return a
        if b and channel_peer(b).endswith(exten):
            return b
    return None


def _is_peer(ch: str, exten: str) -> bool:
    """``channel_peer(ch) == exten``, without building the peer (the common question)."""
    s = ch.find("/") + 1
    if not ch.startswith(exten, s):
        return False
    e = s + len(exten)
    if ch.startswith("Local/"):
        at = ch.find("@", s)
        if at >= 0:
            return at == e
    d = ch.rfind("-", s)
    return d == e if d > s else len(ch) == e
