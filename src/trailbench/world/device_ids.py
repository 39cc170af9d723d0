"""Device identifiers in the synthetic ``tb:`` namespace (DESIGN §9), issued by keyed permutations.

- advertising IDs ``tb:ad:`` + 16 hex digits (a 62-bit space);
- Wi-Fi MAC addresses ``tb:`` + six colon-separated octets: hardware addresses have the
  locally-administered bit clear, randomised (private) addresses have it set, as real ones do;
- Wi-Fi sensor ids ``tb:ws:`` + 8 hex digits.

Each kind has its own permutation and stream, so no identifier is computable from another or
from the index it was issued at (the owner's place in person, device or place order).
"""

from __future__ import annotations

import numpy as np

from trailbench.rng import stream
from trailbench.world.ids import KeyedPermutation

AD_BITS = 62
MAC_BITS = 46  # 48 bits less the two flag bits of the first octet
SENSOR_BITS = 32
LOCAL = 0b10  # first octet: locally administered, unicast
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_digits(values: np.ndarray, digits: int) -> np.ndarray:
    """Lower-case hex of non-negative integers, zero-padded to ``digits``, as an array of str."""
    v = np.asarray(values, dtype=np.uint64)
    shifts = np.arange(digits - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nib = (v[:, None] >> shifts[None, :]) & np.uint64(0xF)
    chars = np.ascontiguousarray(_HEX[nib.astype(np.int64)])
    return chars.view(f"S{digits}").ravel().astype(str)


def ad_ids(seed: int, index: np.ndarray) -> np.ndarray:
    perm = KeyedPermutation(2**AD_BITS, stream(seed, "world", "devices", "ad_ids"))
    return np.char.add("tb:ad:", hex_digits(perm(index), 16))


def sensor_ids(seed: int, index: np.ndarray) -> np.ndarray:
    perm = KeyedPermutation(2**SENSOR_BITS, stream(seed, "world", "devices", "sensor_ids"))
    return np.char.add("tb:ws:", hex_digits(perm(index), 8))


def mac_words(perm: KeyedPermutation, index: np.ndarray, local: bool) -> np.ndarray:
    """48-bit MAC words: 46 permuted bits with the first octet's flag bits set for ``local``."""
    v = perm(index).astype(np.uint64)
    top = (v >> np.uint64(40)) << np.uint64(2)
    if local:
        top |= np.uint64(LOCAL)
    return (top << np.uint64(40)) | (v & np.uint64((1 << 40) - 1))


def format_mac(words: np.ndarray) -> np.ndarray:
    h = hex_digits(words, 12)
    b = h.astype("S12").view("S2").reshape(-1, 6).astype(str)
    out = np.char.add("tb:", b[:, 0])
    for i in range(1, 6):
        out = np.char.add(np.char.add(out, ":"), b[:, i])
    return out


def hardware_perm(seed: int) -> KeyedPermutation:
    return KeyedPermutation(2**MAC_BITS, stream(seed, "world", "devices", "hardware_macs"))


def private_perm(seed: int) -> KeyedPermutation:
    return KeyedPermutation(2**MAC_BITS, stream(seed, "world", "devices", "private_macs"))
