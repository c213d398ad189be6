//! Workload builders shared by the benchmarks.
//!
//! Every builder is deterministic: the same parameters and seed give the same credentials,
//! byte for byte (randomness comes from a seeded `ChaCha20Rng`, time from the fixture's fixed
//! clock). Builders are meant to run once per size, outside any measured closure; the
//! `*_cached` variants memoise them per process so several benchmarks can share one workload.
//!
//! `invite` drives a complete invitation and `floor` the primitives it cannot avoid; `report`
//! turns criterion's output into `benches/REPORT.md`.

pub mod floor;
pub mod invite;
pub mod report;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use spaces_protocol::PublicKey;
use spaces_protocol::credential::{Credential, CredentialId, Role};
use spaces_protocol::fixture::{Actor, SpaceFixture};

/// How a membership workload is shaped. [`MembershipShape::default`] is the shape every
/// `membership/*` benchmark uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MembershipShape {
    /// Admins the owner admits first; they (and the owner) issue everything else.
    pub admins: usize,
    /// Chance that an event is a concurrent branch: several admins issue from the same heads,
    /// and the next credential cites all the branch tips (a merge).
    pub branch_probability: f64,
    /// Chance that a concurrent branch is three admins wide rather than two.
    pub wide_branch_probability: f64,
    /// Chance that an event rotates an admin: one admin is demoted to editor, then a member is
    /// promoted to admin (two linear credentials), so the admin count stays `admins`.
    pub admin_rotation_probability: f64,
}

impl Default for MembershipShape {
    fn default() -> Self {
        MembershipShape {
            admins: 8,
            branch_probability: 0.05,
            wide_branch_probability: 0.2,
            admin_rotation_probability: 0.005,
        }
    }
}

/// What a generated membership workload contains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipStats {
    /// Members admitted (grant + control feed + data feed), the initial admins included.
    pub admissions: usize,
    /// Reader to editor, or member to admin.
    pub promotions: usize,
    /// Editor to reader, or admin to editor.
    pub demotions: usize,
    /// To `Removed`.
    pub removals: usize,
    /// `Removed` back to reader or editor.
    pub readmissions: usize,
    /// Admin rotations (one demotion and one promotion each, also counted above).
    pub admin_rotations: usize,
    /// Concurrent branch events.
    pub branches: usize,
    /// Credentials citing more than one parent.
    pub merges: usize,
    /// The most parents any credential cites.
    pub max_parents: usize,
}

/// A generated credential DAG for one space, in issue order (parents before children).
#[derive(Debug, Clone)]
pub struct MembershipWorkload {
    pub space: PublicKey,
    pub credentials: Vec<Credential>,
    /// Every member's role once all credentials apply (the owner included), sorted by key.
    pub roles: Vec<(PublicKey, Role)>,
    pub stats: MembershipStats,
}

/// `members` admitted members (admins included, the owner not) and exactly `credentials`
/// credentials (the four genesis credentials included), with the default shape.
pub fn membership_workload(members: usize, credentials: usize, seed: u64) -> (PublicKey, Vec<Credential>) {
    let w = MembershipWorkload::generate(MembershipShape::default(), members, credentials, seed);
    (w.space, w.credentials)
}

/// [`MembershipWorkload::generate`] with the default shape, generated once per process and
/// parameters.
pub fn membership_workload_cached(members: usize, credentials: usize, seed: u64) -> Arc<MembershipWorkload> {
    type Cache = Mutex<BTreeMap<(usize, usize, u64), Arc<MembershipWorkload>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry((members, credentials, seed))
        .or_insert_with(|| {
            Arc::new(MembershipWorkload::generate(MembershipShape::default(), members, credentials, seed))
        })
        .clone()
}

impl MembershipWorkload {
    /// Generates the workload.
    ///
    /// The owner admits `shape.admins` admins; then events follow until exactly `credentials`
    /// credentials exist. An event is an admission (3 credentials) by a random admin, a role
    /// change (1 credential: promotion, demotion, removal or re-admission of a non-admin
    /// member), an admin rotation, or a concurrent branch of two or three such actions by
    /// distinct admins from the same heads. Admissions are spread evenly over the run. Each
    /// credential cites the current heads, so the DAG is one long chain with short side
    /// branches, each merged by the next credential.
    ///
    /// The workload is conflict-free: concurrent actions touch distinct members and never an
    /// admin, so every credential applies and the final roles are those in `roles`.
    ///
    /// # Panics
    /// When `members <= shape.admins + 1` or `credentials < 4 + 3 * members`.
    pub fn generate(shape: MembershipShape, members: usize, credentials: usize, seed: u64) -> Self {
        assert!(shape.admins >= 2, "admin rotation needs two admins");
        assert!(members > shape.admins + 1, "need members beyond the admins to change roles of");
        assert!(credentials >= 4 + 3 * members, "each admission takes 3 credentials, genesis 4");
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let fixture = SpaceFixture::new(&mut rng);
        let owner = Person { actor: fixture.owner.clone(), role: Role::Owner };
        let mut g = Generator {
            rng,
            shape,
            heads: vec![fixture.tip()],
            out: Vec::with_capacity(credentials),
            people: vec![owner],
            admins: vec![0],
            plain: Vec::new(),
            members,
            credentials,
            admitted: 0,
            stats: MembershipStats::default(),
            fixture,
        };
        g.out.extend(g.fixture.genesis.iter().cloned());
        g.run();
        let mut roles: Vec<(PublicKey, Role)> = g.people.iter().map(|p| (p.actor.key(), p.role)).collect();
        roles.sort();
        let space = g.fixture.space();
        for c in &g.out {
            let n = c.parents().len();
            g.stats.max_parents = g.stats.max_parents.max(n);
            g.stats.merges += usize::from(n > 1);
        }
        debug_assert_eq!(g.out.len(), credentials);
        MembershipWorkload { space, credentials: g.out, roles, stats: g.stats }
    }
}

#[derive(Debug)]
struct Person {
    actor: Actor,
    role: Role,
}

/// What one issuer does in an event.
enum Action {
    Admit,
    Change,
}

struct Generator {
    rng: ChaCha20Rng,
    fixture: SpaceFixture,
    shape: MembershipShape,
    /// Index 0 is the owner.
    people: Vec<Person>,
    /// Indices of people who issue: the owner and the current admins.
    admins: Vec<usize>,
    /// Indices of role-change targets: members who are neither owner nor admin.
    plain: Vec<usize>,
    out: Vec<Credential>,
    /// Current heads of the DAG, as ids (what the next credential cites).
    heads: Vec<CredentialId>,
    members: usize,
    credentials: usize,
    admitted: usize,
    stats: MembershipStats,
}

impl Generator {
    fn run(&mut self) {
        for _ in 0..self.shape.admins {
            let parents = std::mem::take(&mut self.heads);
            let tip = self.admit(0, Role::Admin, parents);
            self.heads = vec![tip];
        }
        while self.remaining() > 0 {
            let width = if self.chance(self.shape.wide_branch_probability) { 3 } else { 2 };
            if self.chance(self.shape.branch_probability) && self.remaining() >= width && self.admins.len() >= width {
                self.branch(width);
            } else if self.chance(self.shape.admin_rotation_probability) && self.slack() >= 2 {
                self.rotate();
            } else {
                let issuer = self.random_admin();
                let parents = std::mem::take(&mut self.heads);
                let tip = self.act(issuer, parents, &mut Vec::new()).expect("a linear event always has an action");
                self.heads = vec![tip];
            }
        }
    }

    fn remaining(&self) -> usize {
        self.credentials - self.out.len()
    }

    fn admissions_left(&self) -> usize {
        self.members - self.admitted
    }

    /// Credentials left over once the remaining admissions are paid for.
    fn slack(&self) -> usize {
        self.remaining() - 3 * self.admissions_left()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    fn random_admin(&mut self) -> usize {
        let i = self.below(self.admins.len());
        self.admins[i]
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Several distinct admins each take one action from the same heads; the heads become
    /// all of their tips, merged by whatever credential comes next.
    fn branch(&mut self, width: usize) {
        self.stats.branches += 1;
        let base = std::mem::take(&mut self.heads);
        let mut issuers: Vec<usize> = Vec::with_capacity(width);
        while issuers.len() < width {
            let a = self.random_admin();
            if !issuers.contains(&a) {
                issuers.push(a);
            }
        }
        // Members touched in this branch: concurrent actions never touch the same member.
        let mut busy = Vec::new();
        let mut tips = Vec::with_capacity(width);
        for issuer in issuers {
            if self.remaining() == 0 {
                break;
            }
            if let Some(tip) = self.act(issuer, base.clone(), &mut busy) {
                tips.push(tip);
            }
        }
        if tips.is_empty() {
            tips = base;
        }
        tips.sort();
        self.heads = tips;
    }

    /// One action by `issuer` citing `parents`: an admission or a role change, chosen so that
    /// the admissions are spread evenly and the credential count comes out exact.
    fn act(&mut self, issuer: usize, parents: Vec<CredentialId>, busy: &mut Vec<usize>) -> Option<CredentialId> {
        let left = self.admissions_left();
        let target = if self.slack() > 0 { self.pick_plain(busy) } else { None };
        let action = match (left > 0, target) {
            (false, None) => return None,
            (true, None) => Action::Admit,
            (false, Some(_)) => Action::Change,
            (true, Some(_)) => {
                if self.chance(3.0 * left as f64 / self.remaining() as f64) {
                    Action::Admit
                } else {
                    Action::Change
                }
            }
        };
        Some(match action {
            Action::Admit => {
                let role = if self.chance(0.6) { Role::Editor } else { Role::Reader };
                let tip = self.admit(issuer, role, parents);
                busy.push(self.people.len() - 1);
                tip
            }
            Action::Change => {
                let target = target.expect("chosen above");
                busy.push(target);
                self.change(issuer, target, parents)
            }
        })
    }

    /// A random non-admin member not in `busy`.
    fn pick_plain(&mut self, busy: &[usize]) -> Option<usize> {
        if self.plain.is_empty() {
            return None;
        }
        for _ in 0..8 {
            let i = self.below(self.plain.len());
            let p = self.plain[i];
            if !busy.contains(&p) {
                return Some(p);
            }
        }
        self.plain.iter().copied().find(|p| !busy.contains(p))
    }

    /// `issuer` admits a new member with `role`: grant, control feed, data feed.
    fn admit(&mut self, issuer: usize, role: Role, parents: Vec<CredentialId>) -> CredentialId {
        let by = &self.people[issuer].actor;
        let (actor, creds) = self.fixture.admit(&mut self.rng, by, role, parents);
        let tip = creds.last().expect("three credentials").id();
        self.out.extend(creds);
        self.admitted += 1;
        self.stats.admissions += 1;
        let ix = self.people.len();
        self.people.push(Person { actor, role });
        match role {
            Role::Admin => self.admins.push(ix),
            _ => self.plain.push(ix),
        }
        tip
    }

    /// `issuer` changes the role of the non-admin member `target`.
    fn change(&mut self, issuer: usize, target: usize, parents: Vec<CredentialId>) -> CredentialId {
        let roll = self.rng.next_u64() % 100;
        let role = match self.people[target].role {
            Role::Reader if roll < 65 => Role::Editor,
            Role::Reader => Role::Removed,
            Role::Editor if roll < 60 => Role::Reader,
            Role::Editor => Role::Removed,
            Role::Removed if roll < 50 => Role::Reader,
            Role::Removed => Role::Editor,
            Role::Admin | Role::Owner => unreachable!("admins are not plain members"),
        };
        match (self.people[target].role, role) {
            (Role::Removed, _) => self.stats.readmissions += 1,
            (_, Role::Removed) => self.stats.removals += 1,
            (Role::Reader, Role::Editor) => self.stats.promotions += 1,
            _ => self.stats.demotions += 1,
        }
        self.grant(issuer, target, role, parents)
    }

    /// A random admin (never the owner) is demoted to editor by another; then a random member
    /// still in the space is promoted to admin. Linear, two credentials.
    fn rotate(&mut self) {
        let victim_at = 1 + self.below(self.admins.len() - 1);
        let victim = self.admins[victim_at];
        let issuer = loop {
            let a = self.random_admin();
            if a != victim {
                break a;
            }
        };
        let Some(promoted) = self.pick_plain(&[]).filter(|p| self.people[*p].role != Role::Removed) else {
            return;
        };
        self.stats.admin_rotations += 1;
        self.stats.demotions += 1;
        self.stats.promotions += 1;
        let parents = std::mem::take(&mut self.heads);
        let tip = self.grant(issuer, victim, Role::Editor, parents);
        self.admins.swap_remove(victim_at);
        self.plain.push(victim);
        let tip = self.grant(issuer, promoted, Role::Admin, vec![tip]);
        let at = self.plain.iter().position(|p| *p == promoted).expect("promoted from plain");
        self.plain.swap_remove(at);
        self.admins.push(promoted);
        self.heads = vec![tip];
    }

    fn grant(&mut self, issuer: usize, target: usize, role: Role, parents: Vec<CredentialId>) -> CredentialId {
        let c = self.fixture.grant(&self.people[issuer].actor, self.people[target].actor.key(), role, parents);
        let id = c.id();
        self.out.push(c);
        self.people[target].role = role;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spaces_protocol::membership::{Effect, Membership};

    #[test]
    fn exact_counts_and_deterministic() {
        let a = MembershipWorkload::generate(MembershipShape::default(), 100, 1_000, 7);
        let b = MembershipWorkload::generate(MembershipShape::default(), 100, 1_000, 7);
        assert_eq!(a.credentials.len(), 1_000);
        assert_eq!(a.stats.admissions, 100);
        assert_eq!(a.roles.len(), 101);
        assert_eq!(a.credentials, b.credentials);
        assert!(a.stats.branches > 0 && a.stats.merges > 0, "{:?}", a.stats);
        let changes = a.stats.promotions + a.stats.demotions + a.stats.removals + a.stats.readmissions;
        assert_eq!(4 + 3 * a.stats.admissions + changes, 1_000, "{:?}", a.stats);
    }

    #[test]
    fn everything_applies_in_batch_and_one_by_one() {
        for seed in [1, 2, 3] {
            let w = MembershipWorkload::generate(MembershipShape::default(), 60, 700, seed);
            let mut batch = Membership::new(w.space);
            for r in batch.insert_batch(w.credentials.clone()) {
                r.unwrap();
            }
            let mut single = Membership::new(w.space);
            for c in w.credentials.iter().cloned() {
                single.insert(c).unwrap();
            }
            for m in [&batch, &single] {
                for c in &w.credentials {
                    assert_eq!(m.effect(&c.id()), Some(Effect::Applied), "seed {seed}: {:?}", c.assertion());
                }
                let roles: Vec<(PublicKey, Role)> = m.members().iter().map(|m| (m.identity, m.role)).collect();
                assert_eq!(roles, w.roles, "seed {seed}");
            }
        }
    }

    #[test]
    fn larger_shape_has_rotations_and_wide_branches() {
        let w = MembershipWorkload::generate(MembershipShape::default(), 1_000, 10_000, 42);
        assert_eq!(w.credentials.len(), 10_000);
        assert!(w.stats.admin_rotations > 0, "{:?}", w.stats);
        assert_eq!(w.stats.max_parents, 3, "{:?}", w.stats);
    }
}
