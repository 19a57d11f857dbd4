"""A Merkle tree over the log (RFC 9162), kept as C2SP tlog-tiles.

One leaf per event, in position order (leaf index = position - 1). A leaf's entry is a
compact, canonical JSON text naming the event's position and chain hash, so a reader can
match it to `/api/events`; the chain hash commits to everything else the event holds.

- leaf hash: SHA-256(0x00 || entry); node hash: SHA-256(0x01 || left || right).
- Tiles (c2sp.org/tlog-tiles): a tile at level L holds up to 256 consecutive hashes of full
  subtrees of 256**L leaves. A full tile is 8,192 bytes; the rightmost tile of each level may
  be partial (1 to 255 hashes) and grows in place; a partial tile of a smaller tree is a prefix
  of it.

Only arithmetic and hashing live here: the store keeps the tiles (see `EventStore`), and
`TreeReader` answers roots and proofs from any function that gives a tile's bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

WIDTH = 256  # hashes per full tile
HASH_SIZE = 32
FULL_TILE = WIDTH * HASH_SIZE
MAX_LEVEL = 63  # the tile spec's bound on <L>
# The last tile index whose entries (up to 256 positions on) stay 64-bit positions.
MAX_INDEX = (2**63 - 1) // WIDTH - 1
EMPTY_ROOT = hashlib.sha256(b"").digest()

# A tile's bytes at (level, index), or b"" when the tree has none there.
TileSource = Callable[[int, int], bytes]

_sha256 = hashlib.sha256


def entry(position: int, chain_hash: str) -> bytes:
    """The leaf entry of the event at a position: `{"hash":"<hex>","position":N}`."""
    return b'{"hash":"%s","position":%d}' % (chain_hash.encode(), position)


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162's hash of a leaf entry."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162's hash of an inner node."""
    return _sha256(b"\x01" + left + right).digest()


def leaf_hashes(events: Iterable[tuple[int, str]]) -> bytes:
    """The concatenated leaf hashes of (position, chain hash) pairs, in the order given."""
    sha = _sha256
    return b"".join(
        [sha(b'\x00{"hash":"%s","position":%d}' % (h.encode(), p)).digest() for p, h in events]
    )


def split(size: int) -> int:
    """The largest power of two smaller than `size` (> 1): where RFC 9162 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def tile_root(tile: bytes) -> bytes:
    """The hash a full tile contributes to the level above (its 256 hashes' tree)."""
    sha = _sha256
    level = [tile[i : i + HASH_SIZE] for i in range(0, FULL_TILE, HASH_SIZE)]
    while len(level) > 1:
        level = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def first_difference(one: bytes, other: bytes) -> int:
    """The index of the first hash at which two runs of hashes differ (or where the shorter
    one ends)."""
    for index in range(0, max(len(one), len(other)), HASH_SIZE):
        if one[index : index + HASH_SIZE] != other[index : index + HASH_SIZE]:
            return index // HASH_SIZE
    return max(len(one), len(other)) // HASH_SIZE


def grown(
    size: int, leaves: bytes, partial: bytes, stored: TileSource
) -> list[tuple[int, int, bytes]]:
    """The tiles to write when a tree of `size` leaves grows by the concatenated `leaves`.

    `partial` is the level-0 partial tile of the tree before (its `size % 256` leaf hashes);
    `stored` gives a stored tile. Level 0 writes only full tiles (its partial tile is read
    from the log); every higher level also writes its partial tile, rewritten as it grows.
    """
    writes: list[tuple[int, int, bytes]] = []
    level, first = 0, size // WIDTH
    hashes = partial + leaves
    while True:
        full = len(hashes) // FULL_TILE
        ups = []
        for k in range(full):
            tile = hashes[k * FULL_TILE : (k + 1) * FULL_TILE]
            writes.append((level, first + k, tile))
            ups.append(tile_root(tile))
        rest = hashes[full * FULL_TILE :]
        if rest and level > 0:
            writes.append((level, first + full, rest))
        if not ups:
            return writes
        level += 1
        below = size // WIDTH**level  # the hashes this level held before
        first, width = divmod(below, WIDTH)
        kept = stored(level, first)[: width * HASH_SIZE] if width else b""
        if len(kept) != width * HASH_SIZE:
            raise ValueError(f"the stored tree lacks tile {level}/{first} (width {width})")
        hashes = kept + b"".join(ups)


def tiles_of(leaves: bytes) -> list[tuple[int, int, bytes]]:
    """Every tile of a tree built from its concatenated leaf hashes (for a rebuild)."""
    return grown(0, leaves, b"", lambda level, n: b"")


class TreeReader:
    """Roots and proofs of the tree at one size, read from tiles (RFC 9162, section 2.1)."""

    def __init__(self, size: int, tile: TileSource) -> None:
        self.size = size
        self._tile = tile
        self._tiles: dict[tuple[int, int], bytes] = {}

    def _hash(self, level: int, index: int) -> bytes:
        n, i = divmod(index, WIDTH)
        data = self._tiles.get((level, n))
        if data is None or len(data) <= i * HASH_SIZE:
            data = self._tile(level, n)
            self._tiles[(level, n)] = data
        found = data[i * HASH_SIZE : (i + 1) * HASH_SIZE]
        if len(found) != HASH_SIZE:
            raise ValueError(f"the tree has no hash {index} at level {level} (tile {level}/{n})")
        return found

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) of the tree's leaves."""
        if start == end:
            return EMPTY_ROOT
        level, first, last = 0, start, end
        while first % WIDTH == 0 and last % WIDTH == 0 and level < MAX_LEVEL:
            first, last, level = first // WIDTH, last // WIDTH, level + 1
        if last == first + 1:
            return self._hash(level, first)
        k = split(end - start)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self) -> bytes:
        return self.subtree(0, self.size)

    def inclusion(self, index: int) -> list[bytes]:
        """The audit path of leaf `index` in the tree (RFC 9162, PATH)."""
        if not 0 <= index < self.size:
            raise ValueError(f"leaf {index} is not in a tree of {self.size}")
        return self._path(index, 0, self.size)

    # (methods, not nested functions: a recursive closure is a reference cycle, and would keep
    # the store, its connection and a DuckDB file's lock alive until the garbage collector ran)

    def _path(self, m: int, start: int, size: int) -> list[bytes]:
        if size == 1:
            return []
        k = split(size)
        if m < k:
            return [*self._path(m, start, k), self.subtree(start + k, start + size)]
        return [*self._path(m - k, start + k, size - k), self.subtree(start, start + k)]

    def consistency(self, old: int) -> list[bytes]:
        """The proof that the tree of `old` leaves is a prefix of this one (RFC 9162, PROOF)."""
        if not 0 <= old <= self.size:
            raise ValueError(f"a tree of {old} is not a prefix of a tree of {self.size}")
        if old in (0, self.size):
            return []
        return self._subproof(old, 0, self.size, True)

    def _subproof(self, m: int, start: int, size: int, whole: bool) -> list[bytes]:
        if m == size:
            return [] if whole else [self.subtree(start, start + size)]
        k = split(size)
        if m <= k:
            return [*self._subproof(m, start, k, whole), self.subtree(start + k, start + size)]
        return [
            *self._subproof(m - k, start + k, size - k, False),
            self.subtree(start, start + k),
        ]


def first_divergence(size: int, one: TileSource, other: TileSource) -> int | None:
    """The first leaf index at which two trees of `size` leaves differ (None: they are the
    same tree), found by descending from the root into the first subtree that differs: a
    few tiles of each, not every leaf."""
    a, b = TreeReader(size, one), TreeReader(size, other)
    start, end = 0, size
    if a.subtree(start, end) == b.subtree(start, end):
        return None
    while end - start > 1:
        k = split(end - start)
        if a.subtree(start, start + k) != b.subtree(start, start + k):
            end = start + k
        else:
            start += k
    return start


def included(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether an audit path proves leaf hash `leaf` at `index` in a tree of `size` with
    `root` (RFC 9162, section 2.1.3.2)."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def consistent(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether a proof shows the tree of `old` leaves (`old_root`) is a prefix of the tree of
    `new` leaves (`new_root`) (RFC 9162, section 2.1.4.2)."""
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof and old_root == EMPTY_ROOT
    if not 0 < old < new or not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


# -- tile paths (c2sp.org/tlog-tiles) -----------------------------------------------------------


def tile_path(level: int | None, n: int, width: int = 0) -> str:
    """`tile/<L>/<N>[.p/<W>]` (level None: `tile/entries/...`), N in x-prefixed triplets."""
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        parts.insert(0, f"x{n % 1000:03d}")
        n //= 1000
    if width:
        parts[-1] += ".p"
        parts.append(str(width))
    return "/".join(["tile", "entries" if level is None else str(level), *parts])


def parse_tile_path(level_text: str, rest: str) -> tuple[int | None, int, int]:
    """(level or None for entries, index, width or 0) of a tile path's parts; ValueError
    naming what is wrong for any path the spec does not allow."""
    if level_text == "entries":
        level: int | None = None
    elif level_text.isdigit() and level_text == str(int(level_text)) and int(level_text) <= 63:
        level = int(level_text)
    else:
        raise ValueError(f"tile level {level_text!r} is not entries or 0 to 63")
    parts = rest.split("/")
    width = 0
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        width_text = parts.pop()
        parts[-1] = parts[-1][:-2]
        if not (width_text.isdigit() and width_text == str(int(width_text))):
            raise ValueError(f"partial width {width_text!r} is not a number")
        width = int(width_text)
        if not 1 <= width < WIDTH:
            raise ValueError(f"partial width {width} is not between 1 and 255")
    *upper, last = parts
    triplets = [p[1:] for p in upper] + [last]
    if (
        len(parts) > 7
        or any(not p.startswith("x") for p in upper)
        or any(len(t) != 3 or not t.isdigit() for t in triplets)
    ):
        raise ValueError(f"tile index {rest!r} is not in x-prefixed 3-digit parts")
    n = 0
    for t in triplets:
        n = n * 1000 + int(t)
    if n > MAX_INDEX:
        raise ValueError(f"tile index {n} is past any log's end")
    if tile_path(level, n, width) != "/".join(["tile", level_text, rest]):
        raise ValueError(f"tile index {rest!r} is not written the one way the spec allows")
    return level, n, width


def tiles_at(size: int) -> list[tuple[int, int, int]]:
    """Every tile (level, index, width; 0: full) a tree of `size` leaves is read from; the
    entry bundles are laid out as level 0's tiles."""
    found = []
    level = 0
    while count := size // WIDTH**level:
        full, width = divmod(count, WIDTH)
        found += [(level, n, 0) for n in range(full)]
        if width:
            found.append((level, full, width))
        level += 1
    return found


def unbundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle; ValueError if it is cut short."""
    entries, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + size > len(data):
            raise ValueError("the entry bundle is cut short")
        entries.append(data[at + 2 : at + 2 + size])
        at += 2 + size
    return entries


def bundle(entries: Iterable[bytes]) -> bytes:
    """An entry bundle: each entry prefixed with its length as a big-endian uint16."""
    return b"".join(len(e).to_bytes(2, "big") + e for e in entries)
