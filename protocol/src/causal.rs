//! The causal order of a credential DAG: each credential names the heads its issuer had seen.
//!
//! Ancestry queries are the hot path of membership resolution ("was this grant in the
//! issuer's past?"), so they are answered with a chain decomposition and sparse vector clocks.
//! A credential with a parent that is the tip of that parent's chain extends the chain (any
//! parent, not only a sole one: a credential citing the two previous ones stays on one chain);
//! any other credential starts a new chain whose *base* is one of its parents. A node's clock is
//! never copied: a chain stores only the clock entries its nodes raise (`deltas`, keyed by
//! chain, other chain and the position from which the entry holds), and a query follows the
//! chain's base pointers, at most `BASE_LEVELS_MAX` of them, before the chain stores a full
//! clock of its own. Memory is one node per credential plus one entry per clock value a merge
//! raises: O(n) for a chain with side branches and shortcuts, whatever its length. A DAG of
//! width `w` (w mutually concurrent credentials) needs at least `w` chains, and a comb of new
//! chains nested deeper than `BASE_LEVELS_MAX` stores a full clock every `BASE_LEVELS_MAX`
//! levels: O(n·w / BASE_LEVELS_MAX) entries in the worst case (SPEC §4.10).
//!
//! Chain ids depend on arrival order, but the answers do not: ancestry is a function of the set.

use std::collections::BTreeMap;

use crate::credential::CredentialId;
use crate::mutants::{Mutant, active};

/// Index of a node, in insertion (hence topological) order.
pub type NodeIx = u32;

/// Base pointers a query follows before a new chain stores its whole clock instead: bounds an
/// ancestry query at `BASE_LEVELS_MAX + 1` range lookups, while a chain nested in branches of
/// branches (a comb) copies a clock only every this many levels.
pub const BASE_LEVELS_MAX: u32 = 8;

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
    len: u32,
    /// The node whose whole past (itself included) precedes the chain's first node.
    base: Option<NodeIx>,
    /// Base pointers from here to a chain without base.
    level: u32,
    /// Other chains this chain has delta entries for, sorted.
    others: Vec<u32>,
}

/// A DAG whose nodes arrive after all their parents.
#[derive(Debug, Clone, Default)]
pub struct CausalGraph {
    nodes: Vec<Node>,
    index: BTreeMap<CredentialId, NodeIx>,
    chains: Vec<Chain>,
    /// `(chain, other, from)` → the greatest position of `other` in the past of chain's nodes at
    /// positions ≥ `from` (up to the next entry), beyond what the chain's base already gives.
    deltas: BTreeMap<(u32, u32, u32), u32>,
    /// Nodes without children, by id: `heads` is O(heads), not O(nodes).
    heads: std::collections::BTreeSet<CredentialId>,
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

    /// Vector-clock entries held (every chain's deltas): the graph's memory beyond its nodes.
    /// Deterministic, so tests can bound it without timing anything.
    pub fn clock_entries(&self) -> usize {
        self.deltas.len()
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
        let (chain, pos, reference) = self.place(parents);
        let raised = self.raised(chain, reference, parents);
        self.chains[chain as usize].len = pos + 1;
        for (other, value) in raised {
            self.deltas.insert((chain, other, pos), value);
            let others = &mut self.chains[chain as usize].others;
            if let Err(i) = others.binary_search(&other) {
                others.insert(i, other);
            }
        }
        for p in parents {
            let node = &mut self.nodes[*p as usize];
            if node.child_count == 0 {
                self.heads.remove(&node.id);
            }
            node.child_count += 1;
        }
        self.heads.insert(id);
        self.nodes.push(Node { id, depth, chain, pos, child_count: 0 });
        self.index.insert(id, ix);
        assert!(parents.iter().all(|p| self.is_ancestor(*p, ix)), "every parent is in the new node's past");
        ix
    }

    /// The chain and position of a new node, and the node whose past the chain already covers
    /// at that position (its predecessor, or the new chain's base), if any.
    fn place(&mut self, parents: &[NodeIx]) -> (u32, u32, Option<NodeIx>) {
        // Extend the least nested chain among the tip parents: a merge continues the trunk, so
        // side branches stay one base pointer from it instead of nesting ever deeper.
        let level = |p: &NodeIx| self.chains[self.nodes[*p as usize].chain as usize].level;
        let dense = active(Mutant::DenseClocks) && parents.len() > 1;
        if dense {
            self.chains.push(Chain { len: 0, base: None, level: 0, others: Vec::new() });
            return (self.chains.len() as u32 - 1, 0, None);
        }
        if let Some(p) = parents.iter().copied().filter(|p| self.is_tip(*p)).min_by_key(|p| (level(p), *p)) {
            let node = &self.nodes[p as usize];
            return (node.chain, node.pos + 1, Some(p));
        }
        let deepest = parents.iter().copied().max_by_key(|p| (self.nodes[*p as usize].depth, std::cmp::Reverse(*p)));
        let level = deepest.map_or(0, |b| self.chains[self.nodes[b as usize].chain as usize].level + 1);
        let base = deepest.filter(|_| level <= BASE_LEVELS_MAX);
        let level = if base.is_some() { level } else { 0 };
        self.chains.push(Chain { len: 0, base, level, others: Vec::new() });
        ((self.chains.len() - 1) as u32, 0, base)
    }

    /// The clock entries a new node at `chain` raises above what `reference` covers: every
    /// parent's whole clock, less what is already known.
    fn raised(&self, chain: u32, reference: Option<NodeIx>, parents: &[NodeIx]) -> BTreeMap<u32, u32> {
        let mut raised: BTreeMap<u32, u32> = BTreeMap::new();
        let covered = |c: u32, v: u32, raised: &BTreeMap<u32, u32>| {
            c == chain
                || raised.get(&c).is_some_and(|r| *r >= v)
                || reference.is_some_and(|r| self.reach_node(r, c).is_some_and(|have| have >= v))
        };
        for q in parents.iter().copied().filter(|q| Some(*q) != reference) {
            let node = &self.nodes[q as usize];
            if covered(node.chain, node.pos, &raised) {
                continue;
            }
            for (c, v) in self.clock(q) {
                if !covered(c, v, &raised) {
                    raised.insert(c, v);
                }
            }
        }
        raised
    }

    fn is_tip(&self, n: NodeIx) -> bool {
        let node = &self.nodes[n as usize];
        self.chains[node.chain as usize].len == node.pos + 1
    }

    /// The whole vector clock of a node (itself included): (chain, greatest position) per chain
    /// in its past.
    fn clock(&self, n: NodeIx) -> BTreeMap<u32, u32> {
        let mut out = BTreeMap::new();
        let (mut chain, mut pos) = (self.nodes[n as usize].chain, self.nodes[n as usize].pos);
        loop {
            let e = out.entry(chain).or_insert(pos);
            *e = (*e).max(pos);
            for other in &self.chains[chain as usize].others {
                if let Some(v) = self.delta(chain, pos, *other) {
                    let e = out.entry(*other).or_insert(v);
                    *e = (*e).max(v);
                }
            }
            let Some(b) = self.chains[chain as usize].base else { return out };
            (chain, pos) = (self.nodes[b as usize].chain, self.nodes[b as usize].pos);
        }
    }

    /// The delta entry of `chain` for `other` that holds at `pos`.
    fn delta(&self, chain: u32, pos: u32, other: u32) -> Option<u32> {
        self.deltas.range((chain, other, 0)..=(chain, other, pos)).next_back().map(|(_, v)| *v)
    }

    /// The greatest position of chain `other` in the past of node `n` (itself included).
    fn reach_node(&self, n: NodeIx, other: u32) -> Option<u32> {
        let node = &self.nodes[n as usize];
        self.reach(node.chain, node.pos, other)
    }

    fn reach(&self, mut chain: u32, mut pos: u32, other: u32) -> Option<u32> {
        let mut best: Option<u32> = None;
        for _ in 0..=BASE_LEVELS_MAX + 1 {
            if chain == other {
                return Some(best.map_or(pos, |b| b.max(pos)));
            }
            if let Some(v) = self.delta(chain, pos, other) {
                best = Some(best.map_or(v, |b| b.max(v)));
            }
            let Some(b) = self.chains[chain as usize].base else { return best };
            (chain, pos) = (self.nodes[b as usize].chain, self.nodes[b as usize].pos);
        }
        unreachable!("base pointers are at most BASE_LEVELS_MAX deep")
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
        self.reach(nb.chain, nb.pos, na.chain).is_some_and(|v| v >= na.pos)
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
        let heads: Vec<CredentialId> = self.heads.iter().copied().collect();
        debug_assert!(heads.iter().all(|h| self.nodes[self.index[h] as usize].child_count == 0));
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

    /// Builds `parents` into a graph and checks every pair against the search.
    fn check_all(parents: &[Vec<NodeIx>]) -> CausalGraph {
        let mut g = CausalGraph::default();
        for (i, ps) in parents.iter().enumerate() {
            g.insert(id(i as u32), ps);
        }
        for a in 0..parents.len() as NodeIx {
            for b in 0..parents.len() as NodeIx {
                assert_eq!(g.is_ancestor(a, b), reference(parents, a, b), "a={a} b={b}");
            }
        }
        g
    }

    #[test]
    fn a_comb_nested_past_the_base_levels_keeps_exact_answers() {
        // x(i+1) branches off x(i) after x(i)'s leaf took its chain: a new chain per level,
        // nested far deeper than BASE_LEVELS_MAX, with merges of old leaves now and then.
        let mut parents: Vec<Vec<NodeIx>> = vec![vec![]];
        let mut spine = 0;
        for i in 0..60u32 {
            parents.push(vec![spine]); // leaf, extends the spine node's chain
            let mut next = vec![spine];
            if i % 7 == 6 {
                next.push(parents.len() as NodeIx - 9);
            }
            next.sort();
            next.dedup();
            parents.push(next);
            spine = parents.len() as NodeIx - 1;
        }
        let g = check_all(&parents);
        assert!(g.chains() > 2 * BASE_LEVELS_MAX as usize, "the comb nests past the base levels");
    }

    #[test]
    fn a_chain_citing_its_two_previous_nodes_stays_one_chain_without_clock_entries() {
        let mut parents: Vec<Vec<NodeIx>> = vec![vec![], vec![0]];
        for i in 2..200u32 {
            parents.push(vec![i - 2, i - 1]);
        }
        let g = check_all(&parents);
        assert_eq!((g.chains(), g.clock_entries()), (1, 0));
    }

    proptest! {
        #[test]
        fn ancestry_matches_search(raw in proptest::collection::vec(proptest::collection::vec(any::<u16>(), 0..4), 1..60)) {
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
