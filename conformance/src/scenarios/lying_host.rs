//! A lying host (`crate::lying`): the driver plays the guest, the harness a host that knows
//! the PIN and runs the protocol correctly, then sends a grant the code did not promise.
//! The guest MUST refuse it (SPEC §7.7.3): it ends in `ERROR` (`protocol_violation`), and
//! holds no grant. The planted bug `guest-trusts-grant` (the guest skips these checks) fails
//! every one of them.

use super::cases::{HOUR, pin_of, refused, settle, show, state_is, type_pin};
use super::net::{Net, Step, check};
use super::{DriverRole, Scenario};
use crate::lying::Lie;

pub const ALL: &[Scenario] = &[
    Scenario {
        name: "lying-host-other-space",
        driver: DriverRole::Guest,
        description: "after the right PIN, a grant naming another space than its credentials is refused",
        run: other_space,
    },
    Scenario {
        name: "lying-host-other-role",
        driver: DriverRole::Guest,
        description: "after the right PIN, a grant of ADMIN to an EDITOR code is refused",
        run: other_role,
    },
    Scenario {
        name: "lying-host-other-guest",
        driver: DriverRole::Guest,
        description: "after the right PIN, a grant whose credentials admit another identity is refused",
        run: other_guest,
    },
    Scenario {
        name: "lying-host-bad-signature",
        driver: DriverRole::Guest,
        description: "after the right PIN, a grant whose SpaceMember credential does not verify is refused",
        run: bad_signature,
    },
    Scenario {
        name: "lying-host-no-authority",
        driver: DriverRole::Guest,
        description: "after the right PIN, a grant whose SpaceMember credential a READER issued is refused",
        run: no_authority,
    },
];

fn other_space(net: &mut Net<'_>) -> Step {
    lying_host(net, Lie::OtherSpace)
}

fn other_role(net: &mut Net<'_>) -> Step {
    lying_host(net, Lie::OtherRole)
}

fn other_guest(net: &mut Net<'_>) -> Step {
    lying_host(net, Lie::OtherGuest)
}

fn bad_signature(net: &mut Net<'_>) -> Step {
    lying_host(net, Lie::BadSignature)
}

fn no_authority(net: &mut Net<'_>) -> Step {
    lying_host(net, Lie::NoAuthority)
}

fn lying_host(net: &mut Net<'_>, lie: Lie) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.local_host(&args)?;
    let seed = net.seed_bytes();
    net.local_flow_mut(h)?.lie(lie, seed);
    let pin = pin_of(&created)?;
    let (g, _) = net.driver_guest(&created.code)?;
    type_pin(net, g, &pin)?;
    settle(net, &[g])?;
    // The lie was told: the host ran the whole protocol and sent its (false) grant.
    check(!net.status(h).admitted.is_empty(), format!("the harness host sent {}", lie.name()), show(net, h))?;
    refused(net, g, &["protocol_violation"])?;
    state_is(net, g, "ERROR")
}
