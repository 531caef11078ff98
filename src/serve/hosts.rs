//! The hosts connected to `serve`, as far as what flows back to them needs: which host has
//! which request in flight to which upstream (an upstream's elicitation goes to it), the log
//! level each host set, and the resource URIs each host subscribed to.
//!
//! A host is known by its `initialize` (the same params object for as long as its session
//! lives); a stateless 2026-07-28 host has none, and can neither set a level nor subscribe
//! here (it receives nothing outside its own requests anyway).
//!
//! Guarantees: a request in flight is forgotten when its guard drops (answered, failed or
//! cancelled); a host whose transport closed is never picked, and is forgotten at the next
//! registration.

use std::sync::{Arc, Mutex, MutexGuard};

use rmcp::model::InitializeRequestParams;
use rmcp::{Peer, RoleServer};

/// The connected hosts.
#[derive(Default)]
pub struct Hosts {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next: u64,
    /// The hosts' requests relayed and not answered yet, oldest first.
    flights: Vec<Flight>,
    /// The host that sent the latest request (or initialized last).
    recent: Option<Peer<RoleServer>>,
    /// Initialized hosts, in the order they came.
    connected: Vec<Connected>,
}

struct Flight {
    serial: u64,
    upstream: usize,
    host: Peer<RoleServer>,
    /// A 2026-07-28 host's call parked on the upstream's requests: they go here.
    inbox: Option<super::inbox::Inbox>,
}

struct Connected {
    host: Peer<RoleServer>,
    /// The least severe level it wants (`logging/setLevel`); None: all that comes.
    level: Option<u8>,
    /// Resource URIs it subscribed to.
    uris: Vec<String>,
}

/// The identity of a host's session: its `initialize` params (None for a stateless host).
fn identity(host: &Peer<RoleServer>) -> Option<Arc<InitializeRequestParams>> {
    host.peer_info()
}

fn same(a: &Peer<RoleServer>, b: &Peer<RoleServer>) -> bool {
    match (identity(a), identity(b)) {
        (Some(a), Some(b)) => Arc::ptr_eq(&a, &b),
        _ => false,
    }
}

/// A host's request in flight to an upstream; it lands when this is dropped.
pub struct InFlight<'a> {
    hosts: &'a Hosts,
    serial: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut state = self.hosts.lock();
        state.flights.retain(|flight| flight.serial != self.serial);
    }
}

impl Hosts {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `host` finished initializing: it is connected and the most recently active.
    pub fn joined(&self, host: &Peer<RoleServer>) {
        let mut state = self.lock();
        state.connected.retain(|c| !c.host.is_transport_closed());
        state.connected.push(Connected {
            host: host.clone(),
            level: None,
            uris: Vec::new(),
        });
        state.recent = Some(host.clone());
    }

    /// `host` is the most recently active host.
    pub fn active(&self, host: &Peer<RoleServer>) {
        self.lock().recent = Some(host.clone());
    }

    /// `host` sent a request that is now relayed to `upstream`, until the guard drops.
    pub fn flying(&self, upstream: usize, host: &Peer<RoleServer>) -> InFlight<'_> {
        self.flying_with(upstream, host, None)
    }

    /// The same, with the upstream's requests during it sent to `inbox` (see `parked`).
    pub fn flying_with(
        &self,
        upstream: usize,
        host: &Peer<RoleServer>,
        inbox: Option<super::inbox::Inbox>,
    ) -> InFlight<'_> {
        let mut state = self.lock();
        state.next += 1;
        let serial = state.next;
        state.flights.push(Flight {
            serial,
            upstream,
            host: host.clone(),
            inbox,
        });
        state.recent = Some(host.clone());
        InFlight {
            hosts: self,
            serial,
        }
    }

    /// The host an upstream's request goes to: the one of the latest request in flight to
    /// that upstream, else the most recently active one.
    pub fn asker(&self, upstream: usize) -> Option<Peer<RoleServer>> {
        let state = self.lock();
        let flying = state
            .flights
            .iter()
            .rev()
            .find(|flight| flight.upstream == upstream && !flight.host.is_transport_closed());
        match flying {
            Some(flight) => Some(flight.host.clone()),
            None => state
                .recent
                .clone()
                .filter(|host| !host.is_transport_closed()),
        }
    }

    /// The inbox of the latest request in flight to `upstream`, when that request is a
    /// parked one: the upstream's request goes there rather than to any host.
    pub fn inbox(&self, upstream: usize) -> Option<super::inbox::Inbox> {
        let state = self.lock();
        // A stateless host's own flight cannot be asked anything: look past it.
        let latest = state.flights.iter().rev().find(|f| {
            f.upstream == upstream && (f.inbox.is_some() || identity(&f.host).is_some())
        })?;
        latest.inbox.clone()
    }

    /// `host` wants log messages of `level` (a severity rank, debug 0) and above.
    pub fn set_level(&self, host: &Peer<RoleServer>, level: u8) {
        let mut state = self.lock();
        if let Some(connected) = state.connected.iter_mut().find(|c| same(&c.host, host)) {
            connected.level = Some(level);
        }
    }

    /// The level `host` set (a severity rank), if it set one.
    pub fn level_of(&self, host: &Peer<RoleServer>) -> Option<u8> {
        let state = self.lock();
        let connected = state.connected.iter().find(|c| same(&c.host, host))?;
        connected.level
    }

    /// The connected hosts subscribed to `uri`.
    pub fn subscribers(&self, uri: &str) -> Vec<Peer<RoleServer>> {
        let state = self.lock();
        state
            .connected
            .iter()
            .filter(|c| !c.host.is_transport_closed() && c.uris.iter().any(|u| u == uri))
            .map(|c| c.host.clone())
            .collect()
    }

    /// The connected hosts that want a log message of `level`.
    pub fn listening(&self, level: u8) -> Vec<Peer<RoleServer>> {
        let state = self.lock();
        state
            .connected
            .iter()
            .filter(|c| !c.host.is_transport_closed() && c.level.is_none_or(|min| level >= min))
            .map(|c| c.host.clone())
            .collect()
    }

    /// `host` subscribed to `uri`.
    pub fn subscribe(&self, host: &Peer<RoleServer>, uri: &str) {
        let mut state = self.lock();
        if let Some(connected) = state.connected.iter_mut().find(|c| same(&c.host, host))
            && !connected.uris.iter().any(|u| u == uri)
        {
            connected.uris.push(uri.to_string());
        }
    }

    /// `host` unsubscribed from `uri`; whether another host still is subscribed to it.
    pub fn unsubscribe(&self, host: &Peer<RoleServer>, uri: &str) -> bool {
        let mut state = self.lock();
        for connected in state.connected.iter_mut().filter(|c| same(&c.host, host)) {
            connected.uris.retain(|u| u != uri);
        }
        state
            .connected
            .iter()
            .any(|c| !c.host.is_transport_closed() && c.uris.iter().any(|u| u == uri))
    }

    /// Whether `host` is subscribed to `uri`.
    pub fn subscribed(&self, host: &Peer<RoleServer>, uri: &str) -> bool {
        let state = self.lock();
        state
            .connected
            .iter()
            .any(|c| same(&c.host, host) && c.uris.iter().any(|u| u == uri))
    }
}
