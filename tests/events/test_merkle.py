"""The Merkle tree (events.merkle): roots, tiles and proofs against a brute-force RFC 9162
computation, and against `tlog-scales`, a tlog-tiles reader written by someone else."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tlog_scales import tlog as scales_tlog
from tlog_scales.reader import TilesReader

from events import merkle

# Sizes around every tile edge the issue names, and a few more.
SIZES = [0, 1, 2, 3, 255, 256, 257, 511, 512, 513, 65_535, 65_536, 65_537]


def brute_root(leaves: list[bytes]) -> bytes:
    """RFC 9162, section 2.1.1, as written: MTH(D[n]) by the recursive split."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = merkle.split(len(leaves))
    return hashlib.sha256(b"\x01" + brute_root(leaves[:k]) + brute_root(leaves[k:])).digest()


def brute_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = merkle.split(len(leaves))
    if m < k:
        return [*brute_path(m, leaves[:k]), brute_root(leaves[k:])]
    return [*brute_path(m - k, leaves[k:]), brute_root(leaves[:k])]


def entries(size: int) -> list[bytes]:
    return [merkle.entry(p, hashlib.sha256(b"%d" % p).hexdigest()) for p in range(1, size + 1)]


class Tiles:
    """A tree's tiles as a store keeps them: grown append by append in random chunks."""

    def __init__(self) -> None:
        self.stored: dict[tuple[int, int], bytes] = {}
        self.leaves = b""

    def grow(self, new: list[bytes]) -> None:
        size = len(self.leaves) // 32
        added = b"".join(merkle.leaf_hash(e) for e in new)
        partial = self.leaves[(size - size % 256) * 32 :]
        for level, n, data in merkle.grown(size, added, partial, self.tile_stored):
            assert level > 0 or len(data) == merkle.FULL_TILE  # level 0's partial: never stored
            self.stored[(level, n)] = data
        self.leaves += added

    def tile_stored(self, level: int, n: int) -> bytes:
        return self.stored.get((level, n), b"")

    def tile(self, level: int, n: int) -> bytes:
        found = self.tile_stored(level, n)
        size = len(self.leaves) // 32
        if not found and level == 0 and size // 256 == n:
            return self.leaves[n * merkle.FULL_TILE :]
        return found


def grown_in_chunks(data: list[bytes], chunks: list[int]) -> Tiles:
    tiles, at = Tiles(), 0
    for chunk in chunks:
        tiles.grow(data[at : at + chunk])
        at += chunk
    tiles.grow(data[at:])
    return tiles


@pytest.mark.parametrize("size", SIZES)
def test_root_and_tiles_agree_with_brute_force_and_tlog_scales(size: int) -> None:
    data = entries(size)
    tiles = grown_in_chunks(data, [1, 254, 2, 300, 7])
    assert merkle.TreeReader(size, tiles.tile).root() == brute_root(data)
    assert merkle.tiles_of(tiles.leaves) == sorted(
        (level, n, d) for (level, n), d in tiles.stored.items()
    )

    class Backend:  # tlog-scales reads our tiles at the paths the spec lays out
        def get(self, *path: str) -> bytes | None:
            level, n, width = merkle.parse_tile_path(path[1], "/".join(path[2:]))
            assert level is not None and "/".join(path) == merkle.tile_path(level, n, width)
            found = tiles.tile(level, n)
            want = width * 32 if width else merkle.FULL_TILE
            return found[:want] if len(found) >= want else None

    reader = TilesReader(Backend())
    reader.set_size(size)
    assert reader.calculate_root_hash() == brute_root(data)
    for index in {0, size // 3, size - 1} if size else set():
        ours = merkle.TreeReader(size, tiles.tile).inclusion(index)
        assert ours == reader.get_inclusion_proof(index, size).node_hashes
        assert ours == brute_path(index, data)
        leaf = merkle.leaf_hash(data[index])
        assert merkle.included(leaf, index, size, ours, brute_root(data))
        scales_tlog.InclusionProof(index, size, ours).check(leaf, brute_root(data))
    for old in {0, 1, size // 2, size - 1, size} if size else {0}:
        proof = merkle.TreeReader(size, tiles.tile).consistency(old)
        if 0 < old < size:  # (tlog-scales asserts on the trivial proofs, which are empty)
            assert proof == reader.get_consistency_proof(old, size).node_hashes
        else:
            assert proof == []
        old_root = brute_root(data[:old])
        assert merkle.consistent(old, size, old_root, brute_root(data), proof)
        # A partial tile of a smaller tree is a prefix of the bigger one's: the old root too.
        assert merkle.TreeReader(old, tiles.tile).root() == old_root


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=1200),
    chunks=st.lists(st.integers(min_value=1, max_value=600), max_size=6),
    data=st.data(),
)
def test_random_growth_gives_brute_force_roots_and_proofs(
    size: int, chunks: list[int], data: st.DataObject
) -> None:
    leaves = entries(size)
    tiles = grown_in_chunks(leaves, chunks)
    reader = merkle.TreeReader(size, tiles.tile)
    root = brute_root(leaves)
    assert reader.root() == root
    if size:
        index = data.draw(st.integers(min_value=0, max_value=size - 1))
        proof = reader.inclusion(index)
        assert proof == brute_path(index, leaves)
        assert merkle.included(merkle.leaf_hash(leaves[index]), index, size, proof, root)
        assert not merkle.included(merkle.leaf_hash(b"other"), index, size, proof, root)
    old = data.draw(st.integers(min_value=0, max_value=size))
    proof = reader.consistency(old)
    assert merkle.consistent(old, size, brute_root(leaves[:old]), root, proof)
    if 0 < old < size:
        assert not merkle.consistent(old, size, brute_root(leaves[: old - 1] + [b"x"]), root, proof)


@pytest.mark.parametrize(
    ("level", "rest", "expected"),
    [
        ("0", "000", (0, 0, 0)),
        ("1", "x001/x234/067", (1, 1_234_067, 0)),
        ("entries", "x001/234.p/17", (None, 1234, 17)),
        ("2", "999.p/255", (2, 999, 255)),
    ],
)
def test_tile_paths_parse_as_the_spec_writes_them(
    level: str, rest: str, expected: tuple[int | None, int, int]
) -> None:
    assert merkle.parse_tile_path(level, rest) == expected
    assert merkle.tile_path(*expected) == f"tile/{level}/{rest}"


@pytest.mark.parametrize(
    ("level", "rest"),
    [
        ("64", "000"),
        ("01", "000"),
        ("0", "1"),
        ("0", "x000/001"),  # a leading zero triplet: not the one way to write 1
        ("0", "001.p/0"),
        ("0", "001.p/256"),
        ("0", "001.p/07"),
        ("0", "../etc"),
        ("0", "x1/000"),
        ("-1", "000"),
        ("0", "x999/x999/x999/x999/x999/x999/999"),  # past any 64-bit position
    ],
)
def test_tile_paths_the_spec_does_not_allow_are_refused(level: str, rest: str) -> None:
    with pytest.raises(ValueError, match="tile|width"):
        merkle.parse_tile_path(level, rest)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=1, max_value=1500), data=st.data())
def test_the_first_divergence_of_two_trees_is_found(size: int, data: st.DataObject) -> None:
    leaves = entries(size)
    one = grown_in_chunks(leaves, [size // 3])
    assert merkle.first_divergence(size, one.tile, one.tile) is None
    changed = data.draw(st.integers(min_value=0, max_value=size - 1))
    later = data.draw(st.lists(st.integers(min_value=changed, max_value=size - 1), max_size=3))
    forged = list(leaves)
    for index in [changed, *later]:
        forged[index] = b"forged %d" % index
    other = grown_in_chunks(forged, [7])
    assert merkle.first_divergence(size, one.tile, other.tile) == changed
