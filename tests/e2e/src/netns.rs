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
    /// Further links made by [`Host::add_link`] (removed on drop).
    pub links: Vec<Link>,
}

/// A further veth pair between this machine and a namespace, on its own /30.
#[derive(Debug, Clone)]
pub struct Link {
    pub veth_host: String,
    /// Address of this machine on the link.
    pub host_addr: String,
    /// Address of the namespace on the link.
    pub addr: String,
}

/// A fresh /30 slot: (host-side veth, namespace-side veth, host addr, ns addr, n).
fn slot() -> (String, String, String, String, u32) {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    // Distinct /30 per (process, host) so parallel test binaries do not clash.
    let slot = ((pid % 4000) * 16 + n) % 16000;
    let (third, fourth) = (slot / 64, (slot % 64) * 4);
    (
        format!("wv{}h{n}", pid % 100000),
        format!("wv{}n{n}", pid % 100000),
        format!("10.213.{third}.{}", fourth + 1),
        format!("10.213.{third}.{}", fourth + 2),
        n,
    )
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
        let (veth_host, veth_ns, host_addr, addr, n) = slot();
        let name = format!("wd{}-{n}", std::process::id() % 100000);
        ip(&["netns", "add", &name]);
        let h = Host {
            name: name.clone(),
            veth_host: veth_host.clone(),
            host_addr: host_addr.clone(),
            addr: addr.clone(),
            links: Vec::new(),
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

    /// Adds a second (third, …) veth pair into the namespace, on its own /30:
    /// this machine is then reachable from the namespace at `link.host_addr` too.
    pub fn add_link(&mut self) -> Link {
        let (veth_host, veth_ns, host_addr, addr, _) = slot();
        ip(&[
            "link", "add", &veth_host, "type", "veth", "peer", "name", &veth_ns,
        ]);
        let link = Link {
            veth_host: veth_host.clone(),
            host_addr: host_addr.clone(),
            addr: addr.clone(),
        };
        self.links.push(link.clone());
        ip(&["link", "set", &veth_ns, "netns", &self.name]);
        ip(&["addr", "add", &format!("{host_addr}/30"), "dev", &veth_host]);
        ip(&["link", "set", &veth_host, "up"]);
        self.ip(&["addr", "add", &format!("{addr}/30"), "dev", &veth_ns]);
        self.ip(&["link", "set", &veth_ns, "up"]);
        link
    }

    /// Runs `ip ARGS` inside the namespace (panics on failure).
    pub fn ip(&self, args: &[&str]) {
        let mut full = vec!["netns", "exec", &self.name, "ip"];
        full.extend_from_slice(args);
        ip(&full);
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Makes `addr` unreachable from the namespace (a /32 `unreachable`
    /// route beats the link's /30): connecting fails at once.
    pub fn drop_route(&self, addr: &str) {
        self.ip(&["route", "add", "unreachable", &format!("{addr}/32")]);
    }

    /// Undoes [`Host::drop_route`].
    pub fn restore_route(&self, addr: &str) {
        self.ip(&["route", "del", "unreachable", &format!("{addr}/32")]);
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for l in &self.links {
            let _ = Command::new("ip")
                .args(["link", "del", &l.veth_host])
                .output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth_host])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
