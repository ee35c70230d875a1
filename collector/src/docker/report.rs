//! What the agent owes the server about containers: the latest inventory
//! (sent only when it differs from the one the server accepted) and the
//! Docker events seen since the last accepted heartbeat (bounded, oldest
//! dropped first, put back when a heartbeat fails so none is lost).

use dozor_common::containers::{ContainerEvent, ContainerInfo};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Events kept while the server is away.
const MAX_EVENTS: usize = 10_000;

#[derive(Default)]
pub struct ContainerReport {
    latest: Mutex<Option<Vec<ContainerInfo>>>,
    accepted: Mutex<Option<Vec<ContainerInfo>>>,
    events: Mutex<VecDeque<ContainerEvent>>,
    /// Rung when a pass finds the containers changed (nginx's upstreams
    /// follow them).
    pub changed: tokio::sync::Notify,
}

impl ContainerReport {
    pub fn set_inventory(&self, list: Vec<ContainerInfo>) {
        let mut latest = self.latest.lock().expect("inventory lock");
        if latest.as_ref() != Some(&list) {
            *latest = Some(list);
            self.changed.notify_one();
        }
    }

    /// The last pass's containers (None before the first).
    pub fn latest(&self) -> Option<Vec<ContainerInfo>> {
        self.latest.lock().expect("inventory lock").clone()
    }

    pub fn push_event(&self, e: ContainerEvent) {
        let mut q = self.events.lock().expect("events lock");
        if q.len() >= MAX_EVENTS {
            q.pop_front();
        }
        q.push_back(e);
    }

    /// The inventory if it changed since the server accepted one, and the
    /// pending events (taken: give them back with [`Self::restore`]).
    pub fn take(&self) -> (Option<Vec<ContainerInfo>>, Vec<ContainerEvent>) {
        let latest = self.latest.lock().expect("inventory lock").clone();
        let changed = latest.filter(|l| self.accepted.lock().expect("lock").as_ref() != Some(l));
        let events = self.events.lock().expect("events lock").drain(..).collect();
        (changed, events)
    }

    /// The server stored this inventory.
    pub fn accepted(&self, list: Option<Vec<ContainerInfo>>) {
        if let Some(l) = list {
            *self.accepted.lock().expect("lock") = Some(l);
        }
    }

    /// The heartbeat failed: these events go out with the next one.
    pub fn restore(&self, events: Vec<ContainerEvent>) {
        let mut q = self.events.lock().expect("events lock");
        for e in events.into_iter().rev() {
            q.push_front(e);
        }
        while q.len() > MAX_EVENTS {
            q.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: i64) -> ContainerEvent {
        ContainerEvent {
            ts_ms: n,
            container: "c".into(),
            action: "start".into(),
            detail: None,
        }
    }

    #[test]
    fn inventory_goes_once_and_events_survive_a_failure() {
        let r = ContainerReport::default();
        assert_eq!(r.take(), (None, vec![]));
        r.set_inventory(vec![]);
        r.push_event(ev(1));
        let (inv, evs) = r.take();
        assert_eq!(inv, Some(vec![]));
        r.push_event(ev(2));
        r.restore(evs);
        let (inv2, evs) = r.take();
        assert_eq!(inv2, Some(vec![]), "not accepted yet");
        assert_eq!(evs, vec![ev(1), ev(2)]);
        r.accepted(inv2);
        assert_eq!(r.take(), (None, vec![]));
    }
}
