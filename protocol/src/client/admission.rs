//! Admission: the request a guest sends, what a host's `Admitter` signs for a guest (or
//! returns again on a retry), and a guest accepting its grant.

// A part of `Client`'s impl: it reads the client's private types.
use super::*;

impl Client {
    /// Prepares to join a space: new feed keys, and the request an admitter needs.
    pub fn join_request<R: RngCore + CryptoRng>(&mut self, rng: &mut R) -> JoinRequest {
        let (control, data) = (Keypair::generate(rng), Keypair::generate(rng));
        let request = JoinRequest {
            identity: self.identity.identity_key(),
            device: self.identity.device_key(),
            control_feed: control.public(),
            data_feed: data.public(),
            device_credential: self.identity.device_credential().clone(),
        };
        self.joining.insert(control.public(), (control, data));
        request
    }

    /// The device key pair, for signing invitation requests.
    pub fn device_keypair(&self) -> &Keypair {
        self.identity.device_keypair()
    }

    /// Admits a member: grants the role (unless it is a member already: admission is
    /// idempotent) and admits its feeds (unless admitted). Returns every credential of the
    /// space, which is what the new member needs to start replicating.
    pub fn admit(
        &mut self,
        key: &PublicKey,
        request: &JoinRequest,
        role: Role,
        delegation: Option<CredentialId>,
        now: Timestamp,
    ) -> Result<Vec<Credential>, ClientError> {
        let verified = request.device_credential.verify().is_ok();
        self.admit_request(key, request, verified, role, delegation, now)?;
        Ok(self.local(key)?.space.membership().credentials().cloned().collect())
    }

    /// `admit`, told whether the request's device credential verified: `admit_space` knows
    /// it did, since the invitation host admits only a request `AdmissionRequest::verify`
    /// accepted, and verifying it again cost a `verify_strict` per admission (issue 14).
    /// Returns nothing: `admit_space` answers with its grant, not with this list.
    fn admit_request(
        &mut self,
        key: &PublicKey,
        request: &JoinRequest,
        verified: bool,
        role: Role,
        delegation: Option<CredentialId>,
        now: Timestamp,
    ) -> Result<(), ClientError> {
        let ok_device = verified
            && request
                .device_credential
                .authorized_device()
                .is_some_and(|(i, d, _)| i == request.identity && d == request.device);
        let me = self.identity.identity_key();
        let local = self.local(key)?;
        if !ok_device || !local.space.membership().role(&me).is_some_and(Role::can_manage_members) {
            return Err(ClientError::NotAllowed);
        }
        let mut parent = None;
        if !local.space.membership().is_member(&request.identity) {
            let assertion =
                Assertion::SpaceMember { space: *key, role, invitation: delegation, data_frontier: Vec::new() };
            let heads = local.space.membership().next_parents();
            let grant = self.identity.signer().issue(request.identity, assertion, now, heads);
            parent = Some(self.publish(key, grant)?.id());
        }
        if self.local(key)?.space.membership().feed(&request.control_feed).is_none() {
            let after = match parent {
                Some(p) => p,
                None => *self.local(key)?.space.membership().heads().last().expect("heads are never empty"),
            };
            let noise =
                request.device_credential.authorized_device().map(|(_, _, n)| n).ok_or(ClientError::NotAllowed)?;
            let who = (request.identity, request.device, noise);
            for cred in self.feed_admissions_for(*key, who, request.control_feed, request.data_feed, now, vec![after]) {
                self.publish(key, cred)?;
            }
        }
        self.add_contact(request.identity);
        Ok(())
    }

    /// Completes a join with the credentials the admitter returned.
    pub fn accept(&mut self, key: &PublicKey, credentials: Vec<Credential>) -> Result<(), ClientError> {
        let mut space = Space::new(*key);
        space.insert_credentials(credentials);
        self.join(key, space, None, None)
    }

    /// Stores `space` as joined if it admits one of our pending joins: by its membership
    /// (every credential of a small space came with the grant), or else by a proof of
    /// admission (SPEC.md §7.7.3) issued by `host` (if known) with `role` (if known), in which
    /// case the replica is provisional until replication connects our grant.
    fn join(
        &mut self,
        key: &PublicKey,
        mut space: Space,
        host: Option<PublicKey>,
        role: Option<Role>,
    ) -> Result<(), ClientError> {
        let me = self.identity.identity_key();
        let admitted = |c: &PublicKey| space.membership().feed(c).is_some_and(|f| f.identity == me);
        let whole = self.joining.keys().copied().find(admitted).filter(|_| space.membership().is_member(&me));
        let control = match whole {
            Some(control) => control,
            None => {
                let m = space.membership();
                let proven = self
                    .joining
                    .keys()
                    .find_map(|c| crate::proof::check(m, host.as_ref(), &me, c, role).ok().map(|p| (*c, p)));
                let (control, provisional) = proven.ok_or(ClientError::NotAllowed)?;
                space.set_provisional(provisional);
                control
            }
        };
        let (control, data) = self.joining.remove(&control).expect("found above");
        self.spaces.insert(*key, LocalSpace { space, space_key: None, control, data });
        // Invited back: our siblings' HALOs may bring it again.
        self.left.remove(key);
        Ok(())
    }

    /// Where this device stands in space `key`: a member, syncing after a proof of admission,
    /// or not; `Removed` also where our identity removed this device (SPEC.md §4.4 step 7),
    /// since everything it would sign there is void, whatever our identity's role.
    pub fn standing(&self, key: &PublicKey) -> Result<Standing, ClientError> {
        let local = self.local(key)?;
        if self.device_removed_from(&local.space) {
            return Ok(Standing::Removed);
        }
        Ok(local.space.standing(&self.identity.identity_key()))
    }

    /// Completes a SPACE invitation on the guest's side: joins the space and records the host
    /// as a contact. Returns the space key.
    pub fn accept_grant(&mut self, grant: &AdmissionGrant) -> Result<PublicKey, ClientError> {
        self.accept_grant_verified(grant, None)
    }

    /// `accept_grant` with the membership the guest built from this grant's credentials when
    /// it checked them (`InvitationGuest::take_verified`): stored as it is, so no credential
    /// is verified twice. One of another space is ignored.
    pub fn accept_grant_verified(
        &mut self,
        grant: &AdmissionGrant,
        verified: Option<crate::membership::Membership>,
    ) -> Result<PublicKey, ClientError> {
        let AdmissionGrant::Space { space, credentials, role, .. } = grant else {
            return Err(ClientError::NotAllowed);
        };
        let verified = verified.filter(|m| m.space() == *space);
        let host = grant.host_identity_verified(verified.as_ref());
        if !self.spaces.contains_key(space) {
            let replica = match verified {
                Some(m) => Space::from_membership(m),
                None => {
                    let mut replica = Space::new(*space);
                    replica.insert_credentials(credentials.clone());
                    replica
                }
            };
            self.join(space, replica, host, Some(*role))?;
        } else {
            self.rejoin(space, credentials);
        }
        if let Some(host) = host {
            self.add_contact(host);
        }
        Ok(*space)
    }

    /// A grant for a space we hold already (SPEC.md §7.7.3). Where our own control feed is
    /// admitted to us, it changes nothing (replication brings its credentials). Where it is not
    /// (our first admission was voided since: its host was demoted, or its device removed,
    /// concurrently, §4.5), the grant's credentials are taken, and if they admit the feeds this
    /// join requested, we write on those from now on: otherwise a member invited back stayed a
    /// member whose every write was refused, its feeds unadmitted (faulty seed 664, L3: a guest
    /// admitted by a device whose removal was concurrent, then invited back by another admin).
    fn rejoin(&mut self, key: &PublicKey, credentials: &[Credential]) {
        let me = self.identity.identity_key();
        let Some(local) = self.spaces.get_mut(key) else { return };
        let ours = |space: &Space, feed: &PublicKey| space.membership().feed(feed).is_some_and(|a| a.identity == me);
        if ours(&local.space, &local.control.public()) || active(Mutant::RejoinKeepsVoidFeeds) {
            return;
        }
        local.space.insert_credentials(credentials.to_vec());
        let Some(control) = self.joining.keys().copied().find(|c| ours(&local.space, c)) else { return };
        let (control, data) = self.joining.remove(&control).expect("found above");
        local.control = control;
        local.data = data;
    }

    /// A new device's client, from the grant of a DEVICE invitation.
    pub fn from_device_grant(
        device: Keypair,
        noise: crate::keys::NoiseKeypair,
        grant: &AdmissionGrant,
    ) -> Result<Self, ClientError> {
        let AdmissionGrant::Device { credential, host_device } = grant else {
            return Err(ClientError::NotAllowed);
        };
        let identity =
            Identity::from_authorization(device, noise, credential.clone()).map_err(|_| ClientError::NotAllowed)?;
        let mut client = Client::new(identity);
        // The host device is ours now too: the first sibling our HALO knows (SPEC.md §9.8).
        let _ = client.halo.insert(host_device.clone());
        if let Some(host) = grant.host_identity() {
            client.add_contact(host);
        }
        Ok(client)
    }
}

impl Client {
    /// What a guest admitted to `space` needs (SPEC.md §7.7.2 step 7): every credential of the
    /// space if they fit one grant, else a proof of admission, whose `role` is the one `role`
    /// the invitation gave (the guest learns later changes by replication).
    fn grant(&self, space: PublicKey, join: &JoinRequest, role: Role) -> Result<AdmissionGrant, Refusal> {
        let membership = self.space(&space).ok_or(Refusal::NotAuthorised)?.membership();
        let host_device = self.identity.device_credential().clone();
        let whole = membership.len() <= GRANT_CREDENTIALS_MAX;
        let grant = if whole {
            let role = membership.role(&join.identity).ok_or(Refusal::NotAuthorised)?;
            let credentials = membership.credentials().cloned().collect();
            AdmissionGrant::Space { space, role, credentials, host_device }
        } else {
            let credentials = self.proof(membership, join)?;
            AdmissionGrant::Space { space, role, credentials, host_device }
        };
        // A grant that does not fit a frame is never sent (SPEC.md §7.3.5).
        if grant_size(&grant) > FRAME_SIZE_MAX {
            return Err(Refusal::NotAuthorised);
        }
        Ok(grant)
    }

    /// The proof of admission of `join`'s identity by us (`proof::build`).
    fn proof(
        &self,
        membership: &crate::membership::Membership,
        join: &JoinRequest,
    ) -> Result<Vec<Credential>, Refusal> {
        let (me, noise) = (self.identity.identity_key(), self.identity.noise_key());
        let feeds = [join.control_feed, join.data_feed];
        crate::proof::build(membership, &me, &noise, &join.identity, &feeds).map_err(|_| Refusal::NotAuthorised)
    }

    /// Whether the grant for `join` will fit a frame once its (at most three) new credentials
    /// are issued: checked before issuing, so that a refused guest never becomes a member.
    fn grant_will_fit(&self, space: PublicKey, join: &JoinRequest) -> Result<(), Refusal> {
        let membership = self.space(&space).ok_or(Refusal::NotAuthorised)?.membership();
        let new = 3 * <Credential as Canonical>::ENCODED_SIZE_MAX;
        let host_device = self.identity.device_credential().clone();
        let role = Role::Removed;
        if membership.len() + 3 <= GRANT_CREDENTIALS_MAX {
            let credentials = membership.credentials().cloned().collect();
            let whole = AdmissionGrant::Space { space, role, credentials, host_device: host_device.clone() };
            if grant_size(&whole) + new <= FRAME_SIZE_MAX {
                return Ok(());
            }
        }
        let credentials = self.proof(membership, join)?;
        let proof = AdmissionGrant::Space { space, role, credentials, host_device };
        if grant_size(&proof) + new > FRAME_SIZE_MAX {
            return Err(Refusal::NotAuthorised);
        }
        Ok(())
    }
}

/// What an `Admitted` message with a PIN confirmation encodes before its grant: postcard
/// writes a struct variant as its index (one byte for Admitted), then its fields in order,
/// here `Some` and the 32-byte tag.
const ADMITTED_PREFIX: usize = 1 + 1 + 32;

/// The encoded size of the `Admitted` message that carries `grant`, with a PIN confirmation,
/// counted without copying the grant into a message and encoding it (a host asks twice per
/// admission, of grants up to a frame's size; issue 14).
fn grant_size(grant: &AdmissionGrant) -> usize {
    ADMITTED_PREFIX + postcard::experimental::serialized_size(grant).expect("grants always serialize")
}

/// The host side of invitations admits through the client's spaces and identity.
impl Admitter for Client {
    fn admit_space(
        &mut self,
        space: PublicKey,
        join: &JoinRequest,
        role: Role,
        delegation: Option<CredentialId>,
        admission: Admission<'_>,
        now: Timestamp,
    ) -> Result<AdmissionGrant, Refusal> {
        let membership = self.space(&space).map(|s| s.membership()).ok_or(Refusal::NotAuthorised)?;
        let current = membership.role(&join.identity);
        match admission {
            // A retry returns what was issued: the guest's role and feeds must be there already.
            Admission::Retry => {
                let issued =
                    current.is_some_and(|r| r != Role::Removed) && membership.feed(&join.control_feed).is_some();
                if !issued {
                    return Err(Refusal::NotAuthorised);
                }
                return self.grant(space, join, role);
            }
            // A removed identity comes back only through an invitation created after its
            // removal: one whose causal point already shows it Removed (SPEC §7.7.2).
            Admission::New { point } if current == Some(Role::Removed) => {
                let known = membership.role_at_point(&join.identity, point) == Ok(Some(Role::Removed));
                if !known && !active(Mutant::RejoinAfterRemoval) {
                    return Err(Refusal::NotAuthorised);
                }
            }
            // An invitation never changes a member's role: the guest would see another role
            // than its code's and refuse, while the host counted a use (SPEC §7.11, fixed 6).
            Admission::New { .. } if current.is_some_and(|r| r != role) => return Err(Refusal::NotAuthorised),
            Admission::New { .. } => {}
        }
        let already = self.space(&space).is_some_and(|s| s.membership().is_member(&join.identity));
        if let (Some(d), false) = (delegation, already) {
            let state = self.space(&space).and_then(|s| s.membership().delegation(&d)).ok_or(Refusal::NotAuthorised)?;
            if state.cancelled {
                return Err(Refusal::Cancelled);
            }
            if !state.active {
                let used_up = matches!(state.assertion, Assertion::DelegateInvitation { use_limit, .. } if use_limit != 0 && state.uses >= use_limit);
                return Err(if used_up { Refusal::AlreadyUsed } else { Refusal::NotAuthorised });
            }
        }
        // Checked before issuing anything: a refused guest must not become a member.
        self.grant_will_fit(space, join)?;
        // `join` came in a request the host verified, device credential included.
        self.admit_request(&space, join, true, role, delegation, now).map_err(|_| Refusal::NotAuthorised)?;
        if !self.space(&space).is_some_and(|s| s.membership().is_member(&join.identity)) {
            return Err(Refusal::NotAuthorised);
        }
        self.grant(space, join, role)
    }

    fn admit_device(
        &mut self,
        device: PublicKey,
        noise_key: NoiseKey,
        admission: Admission<'_>,
        now: Timestamp,
    ) -> Result<AdmissionGrant, Refusal> {
        if self.disowned() {
            // A device linked through a removed one is removed with it (§4.4 step 7).
            return Err(Refusal::NotAuthorised);
        }
        let existing = self.halo.devices().find(|(d, _)| **d == device).map(|(_, c)| c.clone());
        let credential = match existing {
            Some(c) if c.authorized_device().is_some_and(|(_, _, n)| n == noise_key) => c,
            Some(_) => return Err(Refusal::NotAuthorised),
            // A retry signs nothing: the device must have been authorised already.
            None if admission == Admission::Retry => return Err(Refusal::NotAuthorised),
            None => {
                let c = self.identity.authorize_device(device, noise_key, now);
                self.halo.insert(c.clone()).map_err(|_| Refusal::NotAuthorised)?;
                c
            }
        };
        Ok(AdmissionGrant::Device { credential, host_device: self.identity.device_credential().clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn grant_size_is_the_encoded_size_of_the_admitted_message() {
        let mut rng = ChaCha20Rng::seed_from_u64(14);
        let now = Timestamp::from_millis(1_700_000_000_000);
        let mut host = Client::create_identity(&mut rng, now);
        let space = host.create_space(&mut rng, now);
        let credentials: Vec<Credential> = host.space(&space).unwrap().membership().credentials().cloned().collect();
        let host_device = host.identity.device_credential().clone();
        for n in [0, 1, credentials.len()] {
            let credentials = credentials[..n].to_vec();
            let grant =
                AdmissionGrant::Space { space, role: Role::Editor, credentials, host_device: host_device.clone() };
            let message = crate::invitation::wire::Message::Admitted { mac: Some([7; 32]), grant: grant.clone() };
            assert_eq!(grant_size(&grant), message.to_bytes().len());
        }
    }
}
