//! Delegated invitations on a Peer (SPEC.md §7.8, §9.4.2): the creator's command issues the
//! `DelegateInvitation` credential, and every admin device it names hosts its share as soon as
//! the credential reaches it, through replication like any other credential. The shares add up
//! to the attempt budget, so a guesser who goes from host to host still has `attempts_max`
//! wrong PINs in all; hosts need no coordination for that.

use super::*;
use crate::Assertion;
use crate::membership::Delegation;

impl Peer {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn delegate_invitation(
        &mut self,
        space: PublicKey,
        auth: AuthMethod,
        role: Role,
        guest: Option<PublicKey>,
        lifetime_ms: u64,
        use_limit: u32,
        now: Timestamp,
    ) -> Result<(), CommandError> {
        let expires_at = now.saturating_add_millis(lifetime_ms);
        let (_, code, pin) = self.client.delegate_invitation(
            &space,
            auth,
            role,
            expires_at,
            use_limit,
            guest,
            self.limits,
            now,
            &mut self.rng,
        )?;
        // Replicates the credential to the other hosts and hosts our own share.
        self.space_changed(space, now);
        self.event(Event::InvitationCreated { id: code.id, code, pin });
        Ok(())
    }

    /// After a membership change of `space`: hosts each active delegation that names this
    /// device and is not hosted yet, and ends each hosted one the space no longer honours
    /// (cancelled, or its issuer lost the right to admit). A host that ended stays in the
    /// table (with its record), so a delegation is adopted at most once per device.
    pub(super) fn sync_delegations(&mut self, space: PublicKey, now: Timestamp) {
        let Some(sp) = self.client.space(&space) else { return };
        let delegations: Vec<Delegation> = sp.membership().delegations();
        for d in delegations {
            let Assertion::DelegateInvitation { invitation_id, expires_at, .. } = d.assertion else { continue };
            match self.invitations.host_mut(&invitation_id) {
                Some(h) if h.record().delegation == Some(d.credential) && d.cancelled => {
                    h.handle_input(HostInput::Cancel, now, &mut self.client);
                }
                Some(_) => {}
                None if d.active && expires_at > now => {
                    // Not named (no share for us) is the common case: nothing to host.
                    // No room: the share goes unserved here, which only lowers the budget.
                    if !self.invitations.hosting_full()
                        && let Ok(host) = self.client.host_delegated(&space, &d.credential, self.limits, &mut self.rng)
                    {
                        self.invitations.add_host(host).expect("room was checked above");
                        self.topics_dirty = true;
                    }
                }
                None => {}
            }
        }
    }
}
