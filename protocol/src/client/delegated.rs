//! Delegated invitations: the DelegateInvitation credential, hosting one for another admin,
//! and cancelling it.

// A part of `Client`'s impl: it reads the client's private types.
use super::*;

impl Client {
    /// Creates a delegated invitation: a DelegateInvitation credential that lets up to
    /// `limits.attempts_max` admin devices (ours first) host it while we are offline. Returns
    /// the credential (replicate it to the hosts), the code, and the PIN to show.
    #[allow(clippy::too_many_arguments)]
    pub fn delegate_invitation<R: RngCore + CryptoRng>(
        &mut self,
        space: &PublicKey,
        auth: AuthMethod,
        role: Role,
        expires_at: Timestamp,
        use_limit: u32,
        guest: Option<PublicKey>,
        limits: Limits,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<(Credential, InvitationCode, Option<Pin>), ClientError> {
        let me = (self.identity.identity_key(), self.identity.device_key(), self.identity.noise_key());
        let local = self.local(space)?;
        let membership = local.space.membership();
        if !membership.role(&me.0).is_some_and(Role::can_manage_members) || !crate::invitation::grantable(role) {
            return Err(ClientError::NotAllowed);
        }
        if (auth == AuthMethod::Key) != guest.is_some() || expires_at <= now {
            return Err(ClientError::NotAllowed);
        }
        let mut hosts = vec![me];
        hosts.extend(membership.admin_devices().into_iter().filter(|h| *h != me));
        let shares = delegation::shares(limits.attempts_max, hosts.len());
        let keypair = delegation::invitation_keypair(rng);
        let mut invitation_id = [0u8; 16];
        rng.fill_bytes(&mut invitation_id);
        let pin = (auth == AuthMethod::Pin).then(|| Pin::generate(rng));
        let expires_at_s = u32::try_from(expires_at.as_millis() / 1000).map_err(|_| ClientError::NotAllowed)?;
        let code = InvitationCode {
            kind: Kind::Space,
            auth,
            role: Some(role),
            id: invitation_id,
            host: keypair.public(),
            expires_at_s,
        };
        let mut sealed = Vec::new();
        for ((_, _, noise), attempts) in hosts.iter().zip(shares) {
            let secret = DelegatedSecret { noise_secret: keypair.secret_bytes(), pin: pin.clone(), attempts };
            sealed.extend(delegation::seal(space, &invitation_id, *noise, &secret, rng));
        }
        let assertion = Assertion::DelegateInvitation {
            space: *space,
            invitation_id,
            auth_method: auth,
            role,
            expires_at: code.expires_at(),
            use_limit,
            guest,
            host_key: keypair.public(),
            shares: sealed,
        };
        let credential = self.identity.signer().issue(*space, assertion, now, membership.next_parents());
        let credential = self.publish(space, credential)?;
        Ok((credential, code, pin))
    }

    /// Hosts a delegated invitation with our sealed share, if the invitation names us.
    pub fn host_delegated<R: RngCore + CryptoRng>(
        &self,
        space: &PublicKey,
        delegation_id: &CredentialId,
        limits: Limits,
        rng: &mut R,
    ) -> Result<InvitationHost, ClientError> {
        let membership = self.local(space)?.space.membership();
        let state = membership.delegation(delegation_id).ok_or(ClientError::NotAllowed)?;
        let Assertion::DelegateInvitation {
            invitation_id,
            auth_method,
            role,
            expires_at,
            use_limit,
            guest,
            host_key,
            shares,
            ..
        } = state.assertion
        else {
            return Err(ClientError::NotAllowed);
        };
        let ours = self.identity.noise_keypair();
        let share = shares.iter().find(|s| s.recipient == ours.public()).ok_or(ClientError::NotAllowed)?;
        let secret = delegation::open(space, &invitation_id, share, ours).map_err(|_| ClientError::NotAllowed)?;
        let code = InvitationCode {
            kind: Kind::Space,
            auth: auth_method,
            role: Some(role),
            id: invitation_id,
            host: host_key,
            expires_at_s: u32::try_from(expires_at.as_millis() / 1000).map_err(|_| ClientError::NotAllowed)?,
        };
        if code.host != NoiseKeypair::from_secret_bytes(secret.noise_secret).public() {
            return Err(ClientError::NotAllowed);
        }
        InvitationHost::delegated(code, *space, guest, use_limit, *delegation_id, secret, limits, rng)
            .map_err(|_| ClientError::NotAllowed)
    }

    /// Ends a delegated invitation everywhere.
    pub fn cancel_delegation(
        &mut self,
        space: &PublicKey,
        delegation: CredentialId,
        now: Timestamp,
    ) -> Result<Credential, ClientError> {
        let membership = self.local(space)?.space.membership();
        let assertion = Assertion::CancelInvitation { space: *space, delegation };
        let credential = self.identity.signer().issue(*space, assertion, now, membership.next_parents());
        self.publish(space, credential)
    }
}
