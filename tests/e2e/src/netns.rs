//! Test hosts as Linux network namespaces joined to this host by a veth pair.
//!
//! Each [`Host`] gets its own /30 in 10.213.0.0/16: the host side of the link
//! is `.1`, the namespace side `.2`. Traffic never leaves this machine.
//! Everything is removed on drop. Requires root; without it the test fails
//! (it never silently skips).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Host {
    /// Namespace name, e.g. `wd1234-0`.
    pub name: String,
    /// Host-side veth interface.
    pub veth_host: String,
    /// Address of the host (this machine) as seen from the namespace.
    pub host_addr: String,
    /// Address of the namespace host.
    pub addr: String,
}

fn ip(args: &[&str]) {
    let o = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ip {args:?}: {e} (install iproute2)"));
    assert!(
        o.status.success(),
        "ip {args:?} failed (network namespace tests need root): {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Host {
    pub fn create() -> Host {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        // Distinct /30 per (process, host) so parallel test binaries do not clash.
        let slot = ((pid % 4000) * 16 + n) % 16000;
        let (third, fourth) = (slot / 64, (slot % 64) * 4);
        let name = format!("wd{}-{n}", pid % 100000);
        let veth_host = format!("wv{}h{n}", pid % 100000);
        let veth_ns = format!("wv{}n{n}", pid % 100000);
        let host_addr = format!("10.213.{third}.{}", fourth + 1);
        let addr = format!("10.213.{third}.{}", fourth + 2);
        ip(&["netns", "add", &name]);
        let h = Host {
            name: name.clone(),
            veth_host: veth_host.clone(),
            host_addr: host_addr.clone(),
            addr: addr.clone(),
        };
        ip(&[
            "link", "add", &veth_host, "type", "veth", "peer", "name", &veth_ns,
        ]);
        ip(&["link", "set", &veth_ns, "netns", &name]);
        ip(&["addr", "add", &format!("{host_addr}/30"), "dev", &veth_host]);
        ip(&["link", "set", &veth_host, "up"]);
        ip(&[
            "netns",
            "exec",
            &name,
            "ip",
            "addr",
            "add",
            &format!("{addr}/30"),
            "dev",
            &veth_ns,
        ]);
        ip(&["netns", "exec", &name, "ip", "link", "set", &veth_ns, "up"]);
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        h
    }

    /// Cuts the link (as a pulled cable would).
    pub fn cut(&self) {
        ip(&["link", "set", &self.veth_host, "down"]);
    }

    /// Restores the link.
    pub fn restore(&self) {
        ip(&["link", "set", &self.veth_host, "up"]);
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth_host])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
