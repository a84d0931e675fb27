//! How many expensive builds one client address may have under way at once.
//!
//! A draw's Excel list and zip are built at their first download and kept
//! (see [`crate::public::catalogue`]), so a crowd asking for the same file
//! costs one build. A client asking for many different ones at once would
//! still start a build for each; past its allowance it is told to try again
//! (429) instead, and everyone else's requests keep their cores. Addresses
//! are counted one by one: an office behind one address shares one
//! allowance, which is why only builds count, not downloads of kept files.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

/// Builds a client may have under way at once.
pub const BUILDS_PER_CLIENT: usize = 2;

/// The builds under way, per client address.
#[derive(Debug)]
pub struct Allowance {
    limit: usize,
    busy: Mutex<HashMap<IpAddr, usize>>,
}

/// One build under way for a client; the turn is given back when dropped.
#[derive(Debug)]
pub struct Turn {
    allowance: Arc<Allowance>,
    client: IpAddr,
}

impl Allowance {
    pub fn new(limit: usize) -> Arc<Allowance> {
        Arc::new(Allowance {
            limit,
            busy: Mutex::new(HashMap::new()),
        })
    }

    /// A turn for `client` (`None`: an address not known, as for a request
    /// that did not come over a socket, counted as one client), or `None`
    /// while it has its whole allowance under way.
    pub fn take(self: &Arc<Self>, client: Option<IpAddr>) -> Option<Turn> {
        let client = client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let mut busy = self.busy.lock().expect("never poisoned");
        let under_way = busy.entry(client).or_default();
        if *under_way >= self.limit {
            return None;
        }
        *under_way += 1;
        Some(Turn {
            allowance: Arc::clone(self),
            client,
        })
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut busy = self.allowance.busy.lock().expect("never poisoned");
        if let Some(under_way) = busy.get_mut(&self.client) {
            *under_way -= 1;
            // Only clients with work under way are kept: the map stays as
            // small as the number of clients building now.
            if *under_way == 0 {
                busy.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_past_its_allowance_waits_and_others_do_not() {
        let allowance = Allowance::new(2);
        let (one, other): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let first = allowance.take(Some(one)).unwrap();
        let _second = allowance.take(Some(one)).unwrap();
        assert!(allowance.take(Some(one)).is_none(), "a third build at once is refused");
        assert!(
            allowance.take(Some(other)).is_some(),
            "another address has its own allowance"
        );
        drop(first);
        assert!(
            allowance.take(Some(one)).is_some(),
            "a finished build gives its turn back"
        );
    }

    #[test]
    fn finished_clients_are_forgotten() {
        let allowance = Allowance::new(1);
        for n in 0..100u8 {
            drop(allowance.take(Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)))).unwrap());
        }
        assert!(allowance.busy.lock().unwrap().is_empty());
        let unknown = allowance.take(None).unwrap();
        assert!(
            allowance.take(None).is_none(),
            "requests of no known address share one allowance"
        );
        drop(unknown);
    }
}
