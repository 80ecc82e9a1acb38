//! The Merkle tree over an epoch's shares, shaped like RFC 9162's (Certificate Transparency v2)
//! tree with SHA-256: a leaf hashes as `SHA-256(0x00 ‖ leaf bytes)`, an inner node as
//! `SHA-256(0x01 ‖ left ‖ right)`, the tree over `n > 1` leaves splits at the largest power of two
//! below `n`, and the empty tree's root is `SHA-256("")`. The prefixes keep a leaf from ever
//! passing for an inner node (second-preimage attacks), and the split leaves no duplicated nodes.

use sha2::{Digest, Sha256};

/// Domain prefix of a leaf hash.
pub const LEAF_PREFIX: u8 = 0x00;
/// Domain prefix of an inner node hash.
pub const NODE_PREFIX: u8 = 0x01;

/// The hash of one leaf's bytes.
pub fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// The hash of an inner node.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

fn split(n: usize) -> usize {
    // Largest power of two strictly below n (n >= 2).
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn subtree_root(hashes: &[[u8; 32]]) -> [u8; 32] {
    match hashes.len() {
        0 => Sha256::digest([]).into(),
        1 => hashes[0],
        n => {
            let k = split(n);
            node_hash(&subtree_root(&hashes[..k]), &subtree_root(&hashes[k..]))
        }
    }
}

/// The root over leaf hashes (already passed through [`leaf_hash`]), in order.
pub fn root(leaf_hashes: &[[u8; 32]]) -> [u8; 32] {
    subtree_root(leaf_hashes)
}

/// The inclusion proof (audit path, bottom up) of leaf `index`; `None` when out of range.
pub fn proof(leaf_hashes: &[[u8; 32]], index: usize) -> Option<Vec<[u8; 32]>> {
    if index >= leaf_hashes.len() {
        return None;
    }
    let mut path = Vec::new();
    let mut hashes = leaf_hashes;
    let mut index = index;
    // Walk down from the root, collecting siblings top down, then reverse.
    while hashes.len() > 1 {
        let k = split(hashes.len());
        if index < k {
            path.push(subtree_root(&hashes[k..]));
            hashes = &hashes[..k];
        } else {
            path.push(subtree_root(&hashes[..k]));
            hashes = &hashes[k..];
            index -= k;
        }
    }
    path.reverse();
    Some(path)
}

/// Checks an inclusion proof of the leaf hash `leaf` at `index` in a tree of `size` leaves
/// against `root` (RFC 9162 §2.1.3.2).
pub fn verify(leaf: &[u8; 32], index: u64, size: u64, path: &[[u8; 32]], root: &[u8; 32]) -> bool {
    if index >= size {
        return false;
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &r == root
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<[u8; 32]> {
        (0..n as u32).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn small_trees_have_the_rfc_shape() {
        let l = leaves(3);
        assert_eq!(root(&l[..1]), l[0]);
        assert_eq!(root(&l[..2]), node_hash(&l[0], &l[1]));
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert_eq!(root(&[]), <[u8; 32]>::from(Sha256::digest([])));
        // A leaf's bytes never hash like a node over the same bytes.
        let mut both = l[0].to_vec();
        both.extend_from_slice(&l[1]);
        assert_ne!(leaf_hash(&both), node_hash(&l[0], &l[1]));
    }

    proptest! {
        #[test]
        fn every_proof_verifies_and_no_other_leaf_or_index_does(n in 1usize..70, pick in any::<usize>()) {
            let l = leaves(n);
            let r = root(&l);
            let i = pick % n;
            let p = proof(&l, i).unwrap();
            prop_assert!(verify(&l[i], i as u64, n as u64, &p, &r));
            let other = leaf_hash(b"not a leaf");
            prop_assert!(!verify(&other, i as u64, n as u64, &p, &r));
            if n > 1 {
                let j = (i + 1) % n;
                prop_assert!(!verify(&l[i], j as u64, n as u64, &p, &r));
            }
            // A path longer than the tree is deep never verifies.
            let mut long = p.clone();
            long.push(r);
            prop_assert!(!verify(&l[i], i as u64, n as u64, &long, &r));
            prop_assert!(proof(&l, n).is_none());
        }
    }
}
