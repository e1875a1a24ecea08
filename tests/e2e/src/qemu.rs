//! Running foreign-architecture agents under qemu-user: `binfmt_misc`
//! entries (named after this test process, removed on drop, and the
//! filesystem unmounted again if we mounted it) make the kernel hand i386
//! and AArch64 ELF files to `qemu-*-static`, so an agent can exec its own
//! `bin/ward-agent` and `bin/ward-update` as on real hardware.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BINFMT: &str = "/proc/sys/fs/binfmt_misc";

/// An emulated architecture.
pub struct Arch {
    pub platform: &'static str,
    pub qemu: &'static str,
    /// The Debian cross C library, the guest's `/` for its loader.
    pub sysroot: &'static str,
    magic: &'static str,
    mask: &'static str,
}

/// linux-i686 (the seed's 32-bit package).
pub const I686: Arch = Arch {
    platform: "linux-i686",
    qemu: "/usr/bin/qemu-i386-static",
    sysroot: "/usr/i686-linux-gnu",
    // From qemu's scripts/qemu-binfmt-conf.sh (i386).
    magic: r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00",
    mask: r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
};

/// linux-aarch64.
pub const AARCH64: Arch = Arch {
    platform: "linux-aarch64",
    qemu: "/usr/bin/qemu-aarch64-static",
    sysroot: "/usr/aarch64-linux-gnu",
    magic: r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
    mask: r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
};

/// Registered binfmt entries; unregistered on drop.
pub struct Binfmt {
    mounted: bool,
    names: Vec<String>,
}

impl Binfmt {
    /// Registers `arches` (mounting binfmt_misc if needed).
    pub fn register(arches: &[&Arch]) -> Binfmt {
        let mut b = Binfmt {
            mounted: false,
            names: Vec::new(),
        };
        if !Path::new(BINFMT).join("register").exists() {
            let o = Command::new("mount")
                .args(["-t", "binfmt_misc", "binfmt_misc", BINFMT])
                .output()
                .expect("mount");
            assert!(
                o.status.success(),
                "mounting binfmt_misc: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            b.mounted = true;
        }
        for a in arches {
            assert!(
                Path::new(a.qemu).is_file(),
                "{} is missing (Debian qemu-user-static)",
                a.qemu
            );
            assert!(
                Path::new(a.sysroot).is_dir(),
                "{} is missing (the cross C library)",
                a.sysroot
            );
            let name = format!("ward-e2e-{}-{}", a.platform, std::process::id());
            let line = format!(":{name}:M::{}:{}:{}:F", a.magic, a.mask, a.qemu);
            fs::write(Path::new(BINFMT).join("register"), line).expect("register binfmt entry");
            b.names.push(name);
        }
        b
    }
}

impl Drop for Binfmt {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = fs::write(Path::new(BINFMT).join(n), "-1");
        }
        if self.mounted {
            let _ = Command::new("umount").arg(BINFMT).output();
        }
    }
}

/// The cross-built packages of `scripts/build-agents.sh --profile agent-test`.
pub fn packages_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> -> target/packages/agent-test
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test runs from target/<profile>/deps");
    target.join("packages").join("agent-test")
}

/// `<packages>/<platform>/<file>`, or a panic saying how to build it.
pub fn package(platform: &str, file: &str) -> PathBuf {
    let p = packages_dir().join(platform).join(file);
    assert!(
        p.is_file(),
        "{} is missing: build the cross agents first with `scripts/build-agents.sh --profile agent-test` (scripts/test.sh does)",
        p.display()
    );
    p
}
