//! User commands (SPEC.md §9.4.2): each changes the `Client` or an invitation, and marks the
//! topics for reconciliation, since most commands change which topics the device needs.

use super::*;

impl Peer {
    /// Carries out `c`; a refusal changed nothing the user can see.
    pub(super) fn run_command(&mut self, c: &Command, now: Timestamp) -> Result<(), CommandError> {
        self.topics_dirty = true;
        let target = match c {
            Command::CreateInvitation { space, .. } => *space,
            Command::DelegateInvitation { space, .. }
            | Command::SetRole { space, .. }
            | Command::Write { space, .. }
            | Command::Leave { space } => Some(*space),
            _ => None,
        };
        if target.is_some_and(|s| self.is_leaving(&s)) {
            return Err(CommandError::Left);
        }
        match c {
            Command::CreateSpace => {
                let space = self.client.create_space(&mut self.rng, now);
                self.event(Event::SpaceCreated { space });
                Ok(())
            }
            Command::CreateInvitation { space, auth, role, guest, lifetime_ms, use_limit } => {
                self.create_invitation(*space, *auth, *role, *guest, *lifetime_ms, *use_limit, now)
            }
            Command::DelegateInvitation { space, auth, role, guest, lifetime_ms, use_limit } => {
                self.delegate_invitation(*space, *auth, *role, *guest, *lifetime_ms, *use_limit, now)
            }
            Command::CancelInvitation { id } => self.cancel_invitation(*id, now),
            Command::AcceptInvitation { code } => self.accept(*code, now),
            Command::Authenticate { id, pin } => {
                let g = self.invitations.guest_mut(id).ok_or(CommandError::UnknownInvitation)?;
                g.handle_input(GuestInput::Authenticate(pin.clone()), now);
                Ok(())
            }
            Command::CancelAccept { id } => {
                let g = self.invitations.guest_mut(id).ok_or(CommandError::UnknownInvitation)?;
                g.handle_input(GuestInput::Cancel, now);
                Ok(())
            }
            Command::SetRole { space, member, role } => {
                self.client.set_role(space, *member, *role, now)?;
                self.space_changed(*space, now);
                Ok(())
            }
            Command::Write { space, ops } => {
                self.client.write(space, ops.clone())?;
                self.space_changed(*space, now);
                Ok(())
            }
            Command::Leave { space } => self.leave(*space, now),
            Command::RemoveDevice { device } => {
                let spaces = self.client.remove_device_everywhere(*device, now);
                if spaces.is_empty() {
                    return Err(CommandError::Client(ClientError::NoEffect));
                }
                for space in spaces {
                    self.space_changed(space, now);
                }
                Ok(())
            }
        }
    }

    /// Ends a hosted invitation; a delegated one is cancelled on every host, by a
    /// `CancelInvitation` credential they receive like any other.
    fn cancel_invitation(&mut self, id: [u8; 16], now: Timestamp) -> Result<(), CommandError> {
        let h = self.invitations.host_mut(&id).ok_or(CommandError::UnknownInvitation)?;
        let delegation = h.record().delegation.zip(h.record().space);
        h.handle_input(HostInput::Cancel, now, &mut self.client);
        if let Some((d, space)) = delegation {
            self.client.cancel_delegation(&space, d, now)?;
            self.space_changed(space, now);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn create_invitation(
        &mut self,
        space: Option<PublicKey>,
        auth: AuthMethod,
        role: Role,
        guest: Option<PublicKey>,
        lifetime_ms: u64,
        use_limit: u32,
        now: Timestamp,
    ) -> Result<(), CommandError> {
        if self.invitations.hosting_full() {
            return Err(CommandError::TooManyInvitations);
        }
        if self.client.disowned() {
            // Our identity removed this device (SPEC.md §9.8): what it would admit is void, and a
            // device it linked would be linked through it, so removed with it.
            return Err(CommandError::Client(ClientError::NotAllowed));
        }
        let kind = if space.is_some() { Kind::Space } else { Kind::Device };
        let params = HostParams {
            kind,
            auth,
            role,
            space,
            guest,
            expires_at: now.saturating_add_millis(lifetime_ms),
            use_limit,
            delegation: None,
        };
        let noise = self.client.identity().noise_keypair().clone();
        let (mut host, code) = InvitationHost::create(params, &noise, self.limits, now, &mut self.rng)
            .map_err(CommandError::Invitation)?;
        // The invitation's causal point: who was removed before it may be invited by it.
        if let Some(heads) = space.and_then(|s| self.client.space(&s)).map(|s| s.membership().heads()) {
            host.set_point(heads);
        }
        let pin = host.pin().cloned();
        self.invitations.add_host(host).expect("room was checked above");
        self.event(Event::InvitationCreated { id: code.id, code, pin });
        Ok(())
    }

    fn accept(&mut self, code: InvitationCode, now: Timestamp) -> Result<(), CommandError> {
        if self.invitations.joining_full() {
            return Err(CommandError::TooManyInvitations);
        }
        let device = self.client.device_keypair().clone();
        let noise = self.client.identity().noise_keypair().clone();
        let joiner = match code.kind {
            Kind::Space => Joiner::Space { join: self.client.join_request(&mut self.rng), device, noise },
            // Linking gives this device another identity: only a device with no spaces yet
            // (as DXOS requires a fresh device), which keeps its keys and gets a new chain.
            Kind::Device if self.client.space_keys().next().is_none() => Joiner::Device { device, noise },
            Kind::Device => return Err(CommandError::DeviceHasSpaces),
        };
        let guest = InvitationGuest::new(code, joiner, self.limits, now, &mut self.rng)
            .expect("the joiner was built for the code's kind");
        self.invitations.add_guest(guest).expect("room was checked above");
        // Its topic is joined before the guest's first `Connect` is handled (in `pump`), so
        // peers already known there are found at once.
        self.sync_topics(now);
        Ok(())
    }
}
