"""RFC 6962 Merkle trees (as restated by RFC 9162 section 2.1): tree heads, inclusion and consistency proofs.

Checking a proof is in services/audit/proofs.py, which is all a client needs.

Pure: bytes in, bytes out. Leaves and nodes carry distinct prefixes (0x00, 0x01) so a leaf
can never be passed off as an interior node (RFC 6962 section 2.1, second-preimage note).
"""

from __future__ import annotations

from hashlib import sha256

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """MTH of a single entry: SHA-256(0x00 || data)."""
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only tree keeping every perfect aligned subtree, so proofs cost O(log n) hashes."""

    def __init__(self) -> None:
        self.levels: list[bytearray] = [bytearray()]

    def __len__(self) -> int:
        return len(self.levels[0]) // HASH_SIZE

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (not the entry: hash it with leaf_hash first)."""
        index, height = len(self), 0
        self.levels[0] += leaf
        while index & 1:
            level = self.levels[height]
            parent = node_hash(level[-2 * HASH_SIZE:-HASH_SIZE], level[-HASH_SIZE:])
            if height + 1 == len(self.levels):
                self.levels.append(bytearray())
            self.levels[height + 1] += parent
            index, height = index >> 1, height + 1

    def leaf(self, index: int) -> bytes:
        return bytes(self.levels[0][index * HASH_SIZE:(index + 1) * HASH_SIZE])

    def _subtree(self, lo: int, hi: int) -> bytes:
        size = hi - lo
        if size & (size - 1) == 0 and lo % size == 0:
            height, at = size.bit_length() - 1, (lo // size) * HASH_SIZE
            return bytes(self.levels[height][at:at + HASH_SIZE])
        k = split_point(size)
        return node_hash(self._subtree(lo, lo + k), self._subtree(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """The tree head over the first size leaves (all of them by default)."""
        size = len(self) if size is None else size
        self._check(size)
        return self._subtree(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]) of RFC 6962 section 2.1.1."""
        self._check(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        return self._path(index, 0, size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo == 1:
            return []
        k = split_point(hi - lo)
        if m < k:
            return [*self._path(m, lo, lo + k), self._subtree(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self._subtree(lo, lo + k)]

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """PROOF(first, D[second]) of RFC 6962 section 2.1.2."""
        self._check(second)
        if not 0 < first <= second:
            raise ValueError(f"no consistency proof from {first} to {second}")
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        if m == hi - lo:
            return [] if whole else [self._subtree(lo, hi)]
        k = split_point(hi - lo)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, whole), self._subtree(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._subtree(lo, lo + k)]

    def _check(self, size: int) -> None:
        if not 0 <= size <= len(self):
            raise ValueError(f"tree has {len(self)} leaves, not {size}")


class Frontier:
    """The right edge of a growing tree: enough to give its head at every size, in O(log n) memory."""

    def __init__(self) -> None:
        self.size = 0
        self._peaks: list[bytes] = []  # perfect subtrees, largest first

    def append(self, leaf: bytes) -> None:
        index, self.size = self.size, self.size + 1
        self._peaks.append(leaf)
        while index & 1:  # each trailing one bit of the old size closes a perfect subtree
            right = self._peaks.pop()
            self._peaks[-1] = node_hash(self._peaks[-1], right)
            index >>= 1

    def root(self) -> bytes:
        """The head of the tree over every leaf appended so far."""
        if not self._peaks:
            return EMPTY_ROOT
        head = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            head = node_hash(peak, head)
        return head
