//! TCP connection tracking: new connections in `/proc/net/tcp{,6}` since
//! the last poll become `net.connect` events with their owning process.

use std::collections::HashSet;

use ward_events::NetConnect;

use crate::parse::{parse_net_sockets, SockEntry, TCP_ESTABLISHED, TCP_LISTEN, TCP_SYN_SENT};

/// A new connection and whether this host opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewConn {
    pub entry: SockEntry,
    pub v6: bool,
    pub initiated: bool,
}

/// Remembers the connections of the last poll.
#[derive(Debug, Default)]
pub struct NetTracker {
    known: HashSet<u64>,
    primed: bool,
}

impl NetTracker {
    /// Compares the current tables (`tcp`, `tcp6` text) with the last poll.
    /// The first call only learns what exists (no events for old connections).
    pub fn update(&mut self, tcp: &str, tcp6: &str, inbound: bool) -> Vec<NewConn> {
        let entries: Vec<(SockEntry, bool)> = parse_net_sockets(tcp)
            .into_iter()
            .map(|e| (e, false))
            .chain(parse_net_sockets(tcp6).into_iter().map(|e| (e, true)))
            .collect();
        self.update_entries(entries, inbound)
    }

    /// [`NetTracker::update`] on parsed entries (`(entry, is_v6)`).
    pub fn update_entries(
        &mut self,
        entries: Vec<(SockEntry, bool)>,
        inbound: bool,
    ) -> Vec<NewConn> {
        let listening: HashSet<u16> = entries
            .iter()
            .filter(|(e, _)| e.state == TCP_LISTEN)
            .map(|(e, _)| e.local.1)
            .collect();
        let mut current = HashSet::new();
        let mut out = Vec::new();
        for (e, v6) in entries {
            if e.inode == 0 || !matches!(e.state, TCP_ESTABLISHED | TCP_SYN_SENT) {
                continue;
            }
            current.insert(e.inode);
            if !self.primed || self.known.contains(&e.inode) {
                continue;
            }
            let initiated = e.state == TCP_SYN_SENT || !listening.contains(&e.local.1);
            if initiated || inbound {
                out.push(NewConn {
                    entry: e,
                    v6,
                    initiated,
                });
            }
        }
        self.known = current;
        self.primed = true;
        out
    }
}

/// The event of a new connection (its process is set by the caller).
pub fn to_event(c: &NewConn) -> NetConnect {
    NetConnect {
        protocol: if c.v6 { "tcp6" } else { "tcp" }.into(),
        src_ip: c.entry.local.0,
        src_port: c.entry.local.1,
        dst_ip: c.entry.remote.0,
        dst_port: c.entry.remote.1,
        initiated: c.initiated,
        process: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    fn line(local: &str, remote: &str, st: &str, inode: u64) -> String {
        format!("   0: {local} {remote} {st} 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0 100 0 0 10 0\n")
    }

    #[test]
    fn only_new_connections_after_the_first_poll_with_direction() {
        let mut t = NetTracker::default();
        // A listener on :22 (0016) and an old outgoing connection.
        let old = format!(
            "{HEAD}{}{}",
            line("00000000:0016", "00000000:0000", "0A", 1),
            line("0200000A:C000", "0100000A:0050", "01", 2)
        );
        assert!(t.update(&old, "", false).is_empty(), "first poll learns");
        // New: outgoing to :4444, inbound to :22, and a SYN_SENT.
        let new = format!(
            "{old}{}{}{}",
            line("0200000A:C001", "0500000A:115C", "01", 3),
            line("0200000A:0016", "0900000A:D000", "01", 4),
            line("0200000A:C002", "0600000A:01BB", "02", 5)
        );
        let got = t.update(&new, "", false);
        let inodes: Vec<u64> = got.iter().map(|c| c.entry.inode).collect();
        assert_eq!(inodes, vec![3, 5]);
        assert!(got.iter().all(|c| c.initiated));
        let ev = to_event(&got[0]);
        assert_eq!(ev.dst_ip.to_string(), "10.0.0.5");
        assert_eq!(ev.dst_port, 4444);
        assert_eq!(ev.src_ip.to_string(), "10.0.0.2");
        // Seen again: nothing. Inbound asked for: reported, not initiated.
        assert!(t.update(&new, "", false).is_empty());
        let mut t2 = NetTracker::default();
        t2.update(&old, "", true);
        let got = t2.update(&new, "", true);
        let inbound: Vec<&NewConn> = got.iter().filter(|c| !c.initiated).collect();
        assert_eq!(inbound.len(), 1);
        assert_eq!(inbound[0].entry.inode, 4);
        // A closed connection that comes back with the same inode is new
        // again only if it disappeared in between.
        let gone = format!("{HEAD}{}", line("00000000:0016", "00000000:0000", "0A", 1));
        assert!(t.update(&gone, "", false).is_empty());
        assert_eq!(t.update(&new, "", false).len(), 3);
    }
}
