//! The causal order of a credential DAG: each credential names the heads its issuer had seen.
//!
//! Ancestry queries are the hot path of membership resolution ("was this grant in the
//! issuer's past?"), so they are answered in O(log k) with chain vector clocks: a credential
//! with exactly one parent that is the tip of that parent's chain extends the chain; any
//! other credential starts a new chain whose base clock is the merge of its parents' clocks.
//! An honest space is mostly one chain with short side branches, so `k` (chains in a past)
//! stays small. Chain ids depend on arrival order, but the answers do not: ancestry is a
//! function of the set.

use std::collections::BTreeMap;

use crate::credential::CredentialId;

/// Index of a node, in insertion (hence topological) order.
pub type NodeIx = u32;

#[derive(Debug, Clone)]
struct Node {
    id: CredentialId,
    depth: u32,
    chain: u32,
    pos: u32,
    child_count: u32,
}

#[derive(Debug, Clone, Default)]
struct Chain {
    /// Vector clock of everything before the chain's first node: sorted (chain, max pos).
    base: Vec<(u32, u32)>,
    len: u32,
}

/// A DAG whose nodes arrive after all their parents.
#[derive(Debug, Clone, Default)]
pub struct CausalGraph {
    nodes: Vec<Node>,
    index: BTreeMap<CredentialId, NodeIx>,
    chains: Vec<Chain>,
}

impl CausalGraph {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn get(&self, id: &CredentialId) -> Option<NodeIx> {
        self.index.get(id).copied()
    }

    pub fn id(&self, n: NodeIx) -> CredentialId {
        self.nodes[n as usize].id
    }

    /// Vector-clock entries held (every chain's base): the graph's memory beyond its nodes.
    /// Deterministic, so tests can bound it without timing anything.
    pub fn clock_entries(&self) -> usize {
        self.chains.iter().map(|c| c.base.len()).sum()
    }

    /// Chains of the decomposition.
    pub fn chains(&self) -> usize {
        self.chains.len()
    }

    pub fn depth(&self, n: NodeIx) -> u32 {
        self.nodes[n as usize].depth
    }

    /// Adds a node whose parents are all present. Returns its index.
    pub fn insert(&mut self, id: CredentialId, parents: &[NodeIx]) -> NodeIx {
        assert!(!self.index.contains_key(&id), "a node is inserted once");
        assert!(parents.iter().all(|p| (*p as usize) < self.nodes.len()), "parents precede children");
        let ix = self.nodes.len() as NodeIx;
        let depth = parents.iter().map(|p| self.nodes[*p as usize].depth + 1).max().unwrap_or(0);
        let (chain, pos) = match parents {
            [p] if self.is_tip(*p) => {
                let c = self.nodes[*p as usize].chain;
                (c, self.nodes[*p as usize].pos + 1)
            }
            _ => {
                let base = parents.iter().fold(Vec::new(), |acc, p| merge(&acc, &self.clock(*p)));
                self.chains.push(Chain { base, len: 0 });
                ((self.chains.len() - 1) as u32, 0)
            }
        };
        self.chains[chain as usize].len = pos + 1;
        for p in parents {
            self.nodes[*p as usize].child_count += 1;
        }
        self.nodes.push(Node { id, depth, chain, pos, child_count: 0 });
        self.index.insert(id, ix);
        ix
    }

    fn is_tip(&self, n: NodeIx) -> bool {
        let node = &self.nodes[n as usize];
        self.chains[node.chain as usize].len == node.pos + 1
    }

    /// The full vector clock of a node (its chain base plus itself).
    fn clock(&self, n: NodeIx) -> Vec<(u32, u32)> {
        let node = &self.nodes[n as usize];
        merge(&self.chains[node.chain as usize].base, &[(node.chain, node.pos)])
    }

    /// True when `a` is a strict ancestor of `b` (a happened before b).
    pub fn is_ancestor(&self, a: NodeIx, b: NodeIx) -> bool {
        if a == b {
            return false;
        }
        let (na, nb) = (&self.nodes[a as usize], &self.nodes[b as usize]);
        if na.depth >= nb.depth {
            return false;
        }
        if na.chain == nb.chain {
            return na.pos < nb.pos;
        }
        let base = &self.chains[nb.chain as usize].base;
        match base.binary_search_by_key(&na.chain, |(c, _)| *c) {
            Ok(i) => base[i].1 >= na.pos,
            Err(_) => false,
        }
    }

    /// `a` happened before or is `b`.
    pub fn precedes_or_is(&self, a: NodeIx, b: NodeIx) -> bool {
        a == b || self.is_ancestor(a, b)
    }

    /// Neither happened before the other.
    pub fn concurrent(&self, a: NodeIx, b: NodeIx) -> bool {
        a != b && !self.is_ancestor(a, b) && !self.is_ancestor(b, a)
    }

    /// Nodes without children, sorted by id: what a new credential names as parents.
    pub fn heads(&self) -> Vec<CredentialId> {
        let mut heads: Vec<CredentialId> = self.nodes.iter().filter(|n| n.child_count == 0).map(|n| n.id).collect();
        heads.sort();
        heads
    }

    /// All nodes in the canonical linear order: by depth, then by id. A topological order
    /// that depends only on the set of nodes.
    pub fn canonical_order(&self) -> Vec<NodeIx> {
        let mut order: Vec<NodeIx> = (0..self.nodes.len() as NodeIx).collect();
        order.sort_by_key(|n| (self.nodes[*n as usize].depth, self.nodes[*n as usize].id));
        order
    }

    /// The sort key of the canonical order.
    pub fn order_key(&self, n: NodeIx) -> (u32, CredentialId) {
        let node = &self.nodes[n as usize];
        (node.depth, node.id)
    }
}

fn merge(a: &[(u32, u32)], b: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            core::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            core::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            core::cmp::Ordering::Equal => {
                out.push((a[i].0, a[i].1.max(b[j].1)));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Digest;
    use proptest::prelude::*;

    fn id(i: u32) -> CredentialId {
        let mut d = [0u8; 32];
        d[..4].copy_from_slice(&i.to_be_bytes());
        CredentialId(Digest(d))
    }

    /// Reference: ancestry by depth-first search over parent lists.
    fn reference(parents: &[Vec<NodeIx>], a: NodeIx, b: NodeIx) -> bool {
        let mut stack: Vec<NodeIx> = parents[b as usize].clone();
        let mut seen = vec![false; parents.len()];
        while let Some(n) = stack.pop() {
            if n == a {
                return true;
            }
            if !std::mem::replace(&mut seen[n as usize], true) {
                stack.extend(&parents[n as usize]);
            }
        }
        false
    }

    proptest! {
        #[test]
        fn ancestry_matches_search(raw in proptest::collection::vec(proptest::collection::vec(any::<u16>(), 0..4), 1..40)) {
            let mut g = CausalGraph::default();
            let mut parents: Vec<Vec<NodeIx>> = Vec::new();
            for (i, ps) in raw.iter().enumerate() {
                let mut ps: Vec<NodeIx> = if i == 0 { vec![] } else { ps.iter().map(|p| (*p as usize % i) as NodeIx).collect() };
                ps.sort();
                ps.dedup();
                g.insert(id(i as u32), &ps);
                parents.push(ps);
            }
            for a in 0..raw.len() as NodeIx {
                for b in 0..raw.len() as NodeIx {
                    prop_assert_eq!(g.is_ancestor(a, b), reference(&parents, a, b), "a={} b={}", a, b);
                }
            }
        }
    }
}
