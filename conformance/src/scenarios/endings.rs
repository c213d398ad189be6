//! Scenarios of how invitations end: expiry (while the guest is slow, or before it starts)
//! and cancellation by either side.

use super::cases::*;
use super::net::{Net, Step, check};
use super::{DriverRole, Scenario};
use crate::wire::FlowInput;

pub const ALL: &[Scenario] = &[
    Scenario {
        name: "slow-guest-past-expiry",
        driver: DriverRole::Host,
        description: "a guest typing the right PIN after the expiry is refused; the host ends EXPIRED",
        run: slow_guest_past_expiry,
    },
    Scenario {
        name: "expired-code",
        driver: DriverRole::Guest,
        description: "a guest started after the code's expiry ends EXPIRED without admission",
        run: expired_code,
    },
    Scenario {
        name: "host-cancel",
        driver: DriverRole::Host,
        description: "a cancel reaches the waiting guest, and later guests with the right PIN are refused",
        run: host_cancel,
    },
    Scenario {
        name: "guest-cancel",
        driver: DriverRole::Guest,
        description: "a guest cancelled while waiting for its PIN ends CANCELLED, admitted nowhere",
        run: guest_cancel,
    },
];

// ----- expiry and cancellation -----

fn slow_guest_past_expiry(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", 30 * SECOND, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, _) = net.local_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.waits_for_pin(g))?;
    let deadline = args.expires_at_ms + 10 * SECOND;
    let wait = deadline.saturating_sub(net.now);
    net.wait(wait)?;
    if !net.terminal(g) {
        net.input(g, FlowInput::Authenticate { pin })?;
    }
    settle(net, &[g])?;
    refused(net, g, &["expired", "timeout"])?;
    nobody_admitted(net, h)?;
    state_is(net, h, "EXPIRED")
}

fn expired_code(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", 30 * SECOND, 1);
    let (h, created) = net.local_host(&args)?;
    net.wait(MINUTE)?;
    let (g, _) = net.driver_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.terminal(g))?;
    state_is(net, g, "EXPIRED")?;
    nobody_admitted(net, h)
}

fn host_cancel(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g1, _) = net.local_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.waits_for_pin(g1))?;
    net.input(h, FlowInput::Cancel)?;
    net.input(g1, FlowInput::Authenticate { pin: pin.clone() })?;
    settle(net, &[g1])?;
    refused(net, g1, &["cancelled"])?;
    let (g2, _) = net.local_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.waits_for_pin(g2) || n.terminal(g2))?;
    if !net.terminal(g2) {
        net.input(g2, FlowInput::Authenticate { pin })?;
    }
    settle(net, &[g2])?;
    refused(net, g2, &["cancelled"])?;
    nobody_admitted(net, h)?;
    state_is(net, h, "CANCELLED")
}

fn guest_cancel(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.local_host(&args)?;
    let (g, _) = net.driver_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.waits_for_pin(g))?;
    check(net.waits_for_pin(g), "the guest waits for its PIN", show(net, g))?;
    net.input(g, FlowInput::Cancel)?;
    net.wait(10 * SECOND)?;
    state_is(net, g, "CANCELLED")?;
    nobody_admitted(net, h)
}
