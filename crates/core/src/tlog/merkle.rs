//! The Merkle tree of RFC 6962 / RFC 9162 §2.1 over a list of leaves, its
//! inclusion and consistency proofs, and their verification.
//!
//! The tree is the one Certificate Transparency and Go's checksum database
//! use, so that any of their verifiers can check our proofs: a leaf's hash is
//! `SHA-256(0x00 || leaf)`, an interior node's `SHA-256(0x01 || left ||
//! right)`, a tree of `n > 1` leaves splits at the largest power of two
//! smaller than `n`, and the empty tree's root is `SHA-256("")`.
//!
//! The functions take *leaf hashes* (see [`leaf_hash`]), not leaves: the
//! ledger hashes each entry's 32-byte hash into a leaf hash once, and every
//! root and proof is then computed from those.

use sha2::{Digest, Sha256};

use crate::snapshot::Hash32;

/// The root of the empty tree: SHA-256 of nothing.
pub const EMPTY_ROOT: Hash32 = Hash32([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41,
    0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// No proof in a tree of at most 2^64 leaves is longer than this.
const MAX_PROOF_LEN: usize = 64;

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("entry {index} is not in a tree of {size} entries")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a tree of {second} entries cannot extend one of {first}")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("the proof has {got} hashes, not the {want} a tree of this size needs")]
    WrongLength { got: usize, want: usize },
    #[error("the proof leads to root {computed}, not the expected {expected}")]
    RootMismatch { computed: Hash32, expected: Hash32 },
    #[error("the trees have the same size but different roots")]
    SameSizeDifferentRoots,
}

/// The hash of one leaf: `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    Hash32(hasher.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash32(hasher.finalize().into())
}

/// The root of the tree whose leaves have these hashes (MTH of RFC 9162).
///
/// One pass with a stack of at most 64 perfect subtrees, merged as leaves
/// arrive and folded right to left at the end: the same root as the
/// recursive definition, in `n - 1` node hashes and no allocation.
pub fn root(leaves: &[Hash32]) -> Hash32 {
    if leaves.is_empty() {
        return EMPTY_ROOT;
    }
    // stack[i] is a perfect subtree; sizes strictly decrease upwards, so
    // they are the set bits of the number of leaves seen so far.
    let mut stack: [Hash32; 64] = [Hash32([0; 32]); 64];
    let mut depth = 0usize;
    for (count, leaf) in (1u64..).zip(leaves) {
        let mut node = *leaf;
        // Each trailing zero of the new count is a pair of equal subtrees to merge.
        for _ in 0..count.trailing_zeros() {
            depth -= 1;
            node = node_hash(&stack[depth], &node);
        }
        stack[depth] = node;
        depth += 1;
    }
    let mut node = stack[depth - 1];
    for left in stack[..depth - 1].iter().rev() {
        node = node_hash(left, &node);
    }
    node
}

/// The largest power of two smaller than `n` (for `n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The inclusion proof of the leaf at `index` (from 0) in the tree of
/// `leaves` (PATH of RFC 9162 §2.1.3.1): the sibling hashes from the leaf
/// up to the root.
///
/// Panics when `index` is not below `leaves.len()`.
pub fn inclusion_proof(leaves: &[Hash32], index: usize) -> Vec<Hash32> {
    assert!(index < leaves.len(), "leaf {index} of a tree of {}", leaves.len());
    let mut proof = Vec::new();
    path(leaves, index, &mut proof);
    proof
}

fn path(leaves: &[Hash32], index: usize, proof: &mut Vec<Hash32>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        path(&leaves[..k], index, proof);
        proof.push(root(&leaves[k..]));
    } else {
        path(&leaves[k..], index - k, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// The consistency proof that the tree of the first `first` leaves is a
/// prefix of the tree of all `leaves` (PROOF of RFC 9162 §2.1.4.1); empty
/// when `first` is 0 or the whole tree.
///
/// Panics when `first` is larger than `leaves.len()`.
pub fn consistency_proof(leaves: &[Hash32], first: usize) -> Vec<Hash32> {
    assert!(
        first <= leaves.len(),
        "a prefix of {first} of a tree of {}",
        leaves.len()
    );
    let mut proof = Vec::new();
    if first > 0 && first < leaves.len() {
        subproof(leaves, first, true, &mut proof);
    }
    proof
}

fn subproof(leaves: &[Hash32], m: usize, whole: bool, proof: &mut Vec<Hash32>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(&leaves[..k], m, whole, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(&leaves[k..], m - k, false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Checks that `leaf` (a leaf hash) is at `index` in the tree of `size`
/// leaves with root `expected`, by the algorithm of RFC 9162 §2.1.3.2.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash32,
    proof: &[Hash32],
    expected: &Hash32,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let want = inclusion_len(index, size);
    if proof.len() != want {
        return Err(ProofError::WrongLength { got: proof.len(), want });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        // The length check above makes the RFC's "sn is 0: fail" unreachable.
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    debug_assert_eq!(sn, 0);
    if r != *expected {
        return Err(ProofError::RootMismatch {
            computed: r,
            expected: *expected,
        });
    }
    Ok(())
}

/// The number of hashes in the inclusion proof of `index` in `size` leaves.
fn inclusion_len(index: u64, size: u64) -> usize {
    // The RFC's loop, stepped without hashing: one proof hash per step.
    let (mut fn_, mut sn, mut len) = (index, size - 1, 0usize);
    while sn > 0 {
        if fn_ & 1 == 1 || fn_ == sn {
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        fn_ >>= 1;
        sn >>= 1;
        len += 1;
    }
    len
}

/// Checks that the tree of `first` leaves with root `first_root` is a
/// prefix of the tree of `second` leaves with root `second_root`, by the
/// algorithm of RFC 9162 §2.1.4.2. Trivially true for `first == 0` (with an
/// empty proof and the empty root) and for equal trees (with an empty proof).
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash32],
    first_root: &Hash32,
    second_root: &Hash32,
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == second || first == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            });
        }
        if first == 0 && *first_root != EMPTY_ROOT {
            return Err(ProofError::RootMismatch {
                computed: EMPTY_ROOT,
                expected: *first_root,
            });
        }
        if first == second && first_root != second_root {
            return Err(ProofError::SameSizeDifferentRoots);
        }
        return Ok(());
    }
    if proof.is_empty() || proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: consistency_len(first, second),
        });
    }
    // Step 2: a first tree that is a perfect subtree is its own first node.
    let (start, rest): (Hash32, &[Hash32]) = if first.is_power_of_two() {
        (*first_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: consistency_len(first, second),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: consistency_len(first, second),
        });
    }
    if fr != *first_root {
        return Err(ProofError::RootMismatch {
            computed: fr,
            expected: *first_root,
        });
    }
    if sr != *second_root {
        return Err(ProofError::RootMismatch {
            computed: sr,
            expected: *second_root,
        });
    }
    Ok(())
}

/// The number of hashes in the consistency proof from `first` to `second`
/// leaves (`0 < first < second`), for error messages.
fn consistency_len(first: u64, second: u64) -> usize {
    if first == 0 || first >= second {
        return 0;
    }
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut len = usize::from(!first.is_power_of_two());
    while sn > 0 {
        if fn_ & 1 == 1 || fn_ == sn {
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        fn_ >>= 1;
        sn >>= 1;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> Hash32 {
        Hash32::parse(text).unwrap()
    }

    /// The RFC 6962 reference leaves used by Certificate Transparency's
    /// implementations (transparency-dev/merkle `testonly/constants.go`).
    fn reference_leaves() -> Vec<Hash32> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|l| leaf_hash(&hex::decode(l).unwrap()))
        .collect()
    }

    /// Their roots for the trees of 0 to 8 leaves.
    const REFERENCE_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_match_the_rfc6962_reference_vectors() {
        let leaves = reference_leaves();
        assert_eq!(EMPTY_ROOT, h(REFERENCE_ROOTS[0]));
        for (size, want) in REFERENCE_ROOTS.iter().enumerate() {
            assert_eq!(root(&leaves[..size]), h(want), "tree of {size}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference_vectors() {
        // (leaf index from 0, tree size, proof), from transparency-dev/merkle
        // proof/verify_test.go (which counts leaves from 1).
        let cases: [(usize, usize, &[&str]); 5] = [
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let leaves = reference_leaves();
        for (index, size, want) in cases {
            let want: Vec<Hash32> = want.iter().map(|w| h(w)).collect();
            let proof = inclusion_proof(&leaves[..size], index);
            assert_eq!(proof, want, "leaf {index} of {size}");
            let expected = h(REFERENCE_ROOTS[size]);
            verify_inclusion(index as u64, size as u64, &leaves[index], &proof, &expected).unwrap();
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference_vectors() {
        let cases: [(usize, usize, &[&str]); 5] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
            (
                6,
                7,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        let leaves = reference_leaves();
        for (first, second, want) in cases {
            let want: Vec<Hash32> = want.iter().map(|w| h(w)).collect();
            let proof = consistency_proof(&leaves[..second], first);
            assert_eq!(proof, want, "{first} to {second}");
            let (r1, r2) = (h(REFERENCE_ROOTS[first]), h(REFERENCE_ROOTS[second]));
            verify_consistency(first as u64, second as u64, &proof, &r1, &r2).unwrap();
            if !proof.is_empty() {
                // The old root in place of the new one, and the roots swapped.
                assert!(verify_consistency(first as u64, second as u64, &proof, &r1, &r1).is_err());
                assert!(verify_consistency(first as u64, second as u64, &proof, &r2, &r1).is_err());
                assert!(verify_consistency(first as u64, second as u64, &proof[1..], &r1, &r2).is_err());
            }
        }
    }

    #[test]
    fn corner_cases_of_verification() {
        let leaves = reference_leaves();
        let r = |n: usize| root(&leaves[..n]);
        assert!(matches!(
            verify_inclusion(3, 3, &leaves[0], &[], &r(3)),
            Err(ProofError::IndexOutOfRange { .. })
        ));
        assert!(verify_inclusion(0, 1, &leaves[0], &[], &r(1)).is_ok());
        assert!(verify_inclusion(0, 1, &leaves[1], &[], &r(1)).is_err());
        assert!(verify_consistency(0, 5, &[], &EMPTY_ROOT, &r(5)).is_ok());
        assert!(verify_consistency(0, 5, &[], &r(1), &r(5)).is_err());
        assert!(verify_consistency(5, 5, &[], &r(5), &r(5)).is_ok());
        assert_eq!(
            verify_consistency(5, 5, &[], &r(5), &r(4)),
            Err(ProofError::SameSizeDifferentRoots)
        );
        assert!(matches!(
            verify_consistency(5, 4, &[], &r(5), &r(4)),
            Err(ProofError::SizesOutOfOrder { .. })
        ));
        assert!(verify_consistency(5, 5, &[r(1)], &r(5), &r(5)).is_err());
    }

    /// The recursive definition of MTH, to check the one-pass [`root`].
    fn recursive_root(leaves: &[Hash32]) -> Hash32 {
        match leaves.len() {
            0 => EMPTY_ROOT,
            1 => leaves[0],
            n => {
                let k = split(n);
                node_hash(&recursive_root(&leaves[..k]), &recursive_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash32> {
        (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(200))]

        #[test]
        fn the_one_pass_root_is_the_recursive_one(n in 0usize..300) {
            let leaves = leaves(n);
            proptest::prop_assert_eq!(root(&leaves), recursive_root(&leaves));
        }

        #[test]
        fn every_inclusion_proof_verifies_and_a_tampered_one_does_not(
            n in 1usize..200, pick in 0usize..1000, flip in 0usize..256,
        ) {
            let leaves = leaves(n);
            let index = pick % n;
            let tree_root = root(&leaves);
            let proof = inclusion_proof(&leaves, index);
            proptest::prop_assert!(verify_inclusion(index as u64, n as u64, &leaves[index], &proof, &tree_root).is_ok());
            // Another leaf, another index, another root, a flipped bit in the proof.
            let other = (index + 1) % n;
            if other != index {
                proptest::prop_assert!(verify_inclusion(index as u64, n as u64, &leaves[other], &proof, &tree_root).is_err());
                proptest::prop_assert!(verify_inclusion(other as u64, n as u64, &leaves[index], &proof, &tree_root).is_err());
            }
            let mut bad_root = tree_root;
            bad_root.0[flip % 32] ^= 1 << (flip % 8);
            proptest::prop_assert!(verify_inclusion(index as u64, n as u64, &leaves[index], &proof, &bad_root).is_err());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let at = flip % bad.len();
                bad[at].0[flip % 32] ^= 1 << (flip % 8);
                proptest::prop_assert!(verify_inclusion(index as u64, n as u64, &leaves[index], &bad, &tree_root).is_err());
                proptest::prop_assert!(verify_inclusion(index as u64, n as u64, &leaves[index], &proof[1..], &tree_root).is_err());
            }
            let mut longer = proof.clone();
            longer.push(tree_root);
            proptest::prop_assert!(verify_inclusion(index as u64, n as u64, &leaves[index], &longer, &tree_root).is_err());
        }

        #[test]
        fn every_consistency_proof_verifies_and_a_tampered_one_does_not(
            second in 1usize..200, pick in 0usize..1000, flip in 0usize..256,
        ) {
            let leaves = leaves(second);
            let first = pick % (second + 1);
            let (r1, r2) = (root(&leaves[..first]), root(&leaves));
            let proof = consistency_proof(&leaves, first);
            proptest::prop_assert!(verify_consistency(first as u64, second as u64, &proof, &r1, &r2).is_ok());
            let mut bad_first = r1;
            bad_first.0[flip % 32] ^= 1 << (flip % 8);
            proptest::prop_assert!(verify_consistency(first as u64, second as u64, &proof, &bad_first, &r2).is_err());
            // The empty tree is a prefix of every tree, whatever its root.
            if first > 0 {
                let mut bad_second = r2;
                bad_second.0[flip % 32] ^= 1 << (flip % 8);
                proptest::prop_assert!(verify_consistency(first as u64, second as u64, &proof, &r1, &bad_second).is_err());
            }
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let at = flip % bad.len();
                bad[at].0[flip % 32] ^= 1 << (flip % 8);
                proptest::prop_assert!(verify_consistency(first as u64, second as u64, &bad, &r1, &r2).is_err());
                proptest::prop_assert!(verify_consistency(first as u64, second as u64, &proof[1..], &r1, &r2).is_err());
            }
            // A rewritten leaf inside the first tree: the old root is no prefix of the new tree.
            if first > 0 {
                let mut rewritten = leaves.clone();
                rewritten[pick % first] = leaf_hash(b"rewritten");
                let proof = consistency_proof(&rewritten, first);
                proptest::prop_assert!(verify_consistency(first as u64, second as u64, &proof, &r1, &root(&rewritten)).is_err());
            }
        }
    }
}
