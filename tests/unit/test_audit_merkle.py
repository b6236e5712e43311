"""The ledger's Merkle tree agrees with RFC 6962's reference vectors and a brute-force reference."""

import random

import pytest

from services.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    leaf_hash,
    node_hash,
    split_point,
)
from services.audit.proofs import verify_consistency, verify_inclusion

# The inputs and tree heads of the Certificate Transparency reference tests (RFC 6962).
DATA = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                   "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (first size, second size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 read literally: the brute-force reference."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def tree_of(leaves: list[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree


LEAVES = [leaf_hash(d) for d in DATA]


def test_tree_heads_match_the_reference_vectors_at_every_size():
    tree, frontier = MerkleTree(), Frontier()
    assert tree.root() == frontier.root() == EMPTY_ROOT
    for n, leaf in enumerate(LEAVES, start=1):
        tree.append(leaf)
        frontier.append(leaf)
        assert tree.root().hex() == frontier.root().hex() == ROOTS[n - 1]
    assert [tree.root(n).hex() for n in range(1, 9)] == ROOTS


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference_vectors(index, size, path):
    proof = tree_of(LEAVES).inclusion_proof(index, size)
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(LEAVES[index], index, size, proof, bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference_vectors(first, second, path):
    proof = tree_of(LEAVES).consistency_proof(first, second)
    assert [p.hex() for p in proof] == path
    roots = [bytes.fromhex(r) for r in ROOTS]
    assert verify_consistency(first, second, roots[first - 1], roots[second - 1], proof)


def test_every_proof_of_every_tree_up_to_70_leaves_verifies_and_nothing_else_does():
    rng = random.Random(6962)
    leaves = [leaf_hash(rng.randbytes(rng.randint(0, 40))) for _ in range(70)]
    tree = tree_of(leaves)
    frontier = Frontier()
    for n in range(1, len(leaves) + 1):
        frontier.append(leaves[n - 1])
        root = mth(leaves[:n])
        assert tree.root(n) == frontier.root() == root
        for i in range(n):
            path = tree.inclusion_proof(i, n)
            assert verify_inclusion(leaves[i], i, n, path, root)
            assert n == 1 or not verify_inclusion(leaves[(i + 1) % n], i, n, path, root)
            assert n == 1 or not verify_inclusion(leaves[i], (i + 1) % n, n, path, root)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            first = mth(leaves[:m])
            assert verify_consistency(m, n, first, root, proof)
            if m < n:
                assert not verify_consistency(m, n, leaf_hash(b"forged"), root, proof)
                assert not verify_consistency(m, n, first, leaf_hash(b"forged"), proof)


def test_a_changed_proof_element_fails():
    tree = tree_of(LEAVES)
    path = tree.inclusion_proof(3, 7)
    broken = [path[0], bytes(32), *path[2:]]
    assert not verify_inclusion(LEAVES[3], 3, 7, broken, tree.root(7))
    proof = tree.consistency_proof(3, 7)
    assert not verify_consistency(3, 7, tree.root(3), tree.root(7), proof[:-1])


def test_sizes_outside_the_tree_are_refused():
    tree = tree_of(LEAVES[:3])
    with pytest.raises(ValueError):
        tree.root(4)
    with pytest.raises(ValueError):
        tree.inclusion_proof(3, 3)
    with pytest.raises(ValueError):
        tree.consistency_proof(0, 3)
