//! Issue 4 acceptance (platform packages): the server serves each
//! platform's agent and updater with its install command; the i686 and
//! aarch64 builds, run under qemu-user, enroll and reach `protected`; the
//! x86_64 package is a static (musl) executable that does the same natively.
//!
//! Needs `scripts/build-agents.sh --profile agent-test` (scripts/test.sh
//! runs it) and root (binfmt_misc entries, removed afterwards).

use std::fs;
use std::path::Path;
use std::time::Duration;

use ward_e2e::qemu::{package, Binfmt, AARCH64, I686};
use ward_e2e::{stderr, stdout, wait_status, Agent, Server};

/// A packages dir of our own (the server writes its local build into the
/// host platform's slot when empty; never into the build output).
fn packages(platforms: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ward-e2e-packages")
        .tempdir()
        .unwrap();
    for p in platforms {
        for f in ["ward-agent", "ward-update"] {
            let to = dir.path().join(p).join(f);
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(package(p, f), &to).unwrap();
        }
    }
    dir
}

fn elf_class_machine(path: &Path) -> (u8, u16) {
    let b = fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{} is ELF", path.display());
    (b[4], u16::from_le_bytes([b[18], b[19]]))
}

#[test]
fn i686_and_aarch64_agents_under_qemu_enroll_and_reach_protected() {
    let pkgs = packages(&["linux-i686", "linux-aarch64"]);
    let server = Server::start_with(
        "127.0.0.1",
        &[("WARD_PACKAGES_DIR", pkgs.path().to_str().unwrap())],
    );
    // Sanity: the packages are what their names say.
    assert_eq!(
        elf_class_machine(&pkgs.path().join("linux-i686/ward-agent")),
        (1, 3)
    );
    assert_eq!(
        elf_class_machine(&pkgs.path().join("linux-aarch64/ward-agent")),
        (2, 183)
    );
    let _binfmt = Binfmt::register(&[&I686, &AARCH64]);
    let (_id, secret) = server.create_key("e2e-qemu");

    let mut agents = Vec::new();
    for arch in [&I686, &AARCH64] {
        // The install command the server prints for that platform.
        let cmd = server.install_command_for(arch.platform, &secret, None);
        assert!(
            cmd.contains(&format!("--platform {}", arch.platform)),
            "{cmd}"
        );
        let agent = Agent::new_prefix();
        let out = agent.install(&cmd, None, &[("QEMU_LD_PREFIX", arch.sysroot)]);
        assert!(
            out.status.success(),
            "{} install: {} {}\n{}",
            arch.platform,
            stdout(&out),
            stderr(&out),
            server.log()
        );
        assert!(
            stdout(&out).contains("ward-update 0.1.0 running"),
            "{}",
            stdout(&out)
        );
        let id = agent.agent_id();
        let a = wait_status(&server, &id, "protected", None, Duration::from_secs(30));
        assert_eq!(a["platform"], arch.platform);
        // It really is the foreign build, run by qemu.
        let pid = agent.pid().expect("agent pid");
        let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        assert_eq!(
            exe,
            Path::new(arch.qemu),
            "{} runs under qemu",
            arch.platform
        );
        let installed = agent.prefix.join("agent/0.1.0/ward-agent");
        assert_eq!(
            fs::read(&installed).unwrap(),
            fs::read(pkgs.path().join(arch.platform).join("ward-agent")).unwrap()
        );
        let upid = agent.update_pid().expect("ward-update runs");
        assert_eq!(
            fs::read_link(format!("/proc/{upid}/exe")).unwrap(),
            Path::new(arch.qemu)
        );
        agents.push((agent, id));
    }
    // Two assets, both protected at once.
    assert_eq!(server.assets().len(), 2);
    for (_, id) in &agents {
        wait_status(&server, id, "protected", None, Duration::from_secs(5));
    }
    // Agents stop before the binfmt entries go (reverse declaration order).
    drop(agents);
}

#[test]
fn x86_64_package_is_a_static_musl_executable_that_enrolls() {
    let musl = package("linux-x86_64", "ward-agent");
    let b = fs::read(&musl).unwrap();
    assert_eq!(elf_class_machine(&musl), (2, 62));
    // No program interpreter (PT_INTERP = 3) and no DT_NEEDED: static.
    let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (
        u16::from_le_bytes([b[54], b[55]]) as usize,
        u16::from_le_bytes([b[56], b[57]]) as usize,
    );
    let mut dynamic = None;
    for i in 0..phnum {
        let h = &b[phoff + i * phentsize..];
        let kind = u32::from_le_bytes(h[..4].try_into().unwrap());
        assert_ne!(kind, 3, "the musl agent has no PT_INTERP (it is static)");
        if kind == 2 {
            let off = u64::from_le_bytes(h[8..16].try_into().unwrap()) as usize;
            let size = u64::from_le_bytes(h[32..40].try_into().unwrap()) as usize;
            dynamic = Some((off, size));
        }
    }
    if let Some((off, size)) = dynamic {
        for e in b[off..off + size].chunks_exact(16) {
            let tag = i64::from_le_bytes(e[..8].try_into().unwrap());
            assert_ne!(tag, 1, "no DT_NEEDED: it loads no shared library");
        }
    }
    let file = std::process::Command::new("file")
        .arg(&musl)
        .output()
        .unwrap();
    let file = String::from_utf8_lossy(&file.stdout);
    assert!(file.contains("static"), "file(1) says static: {file}");

    // Served and installed as the linux-x86_64 package, it enrolls natively.
    let pkgs = packages(&["linux-x86_64"]);
    let server = Server::start_with(
        "127.0.0.1",
        &[("WARD_PACKAGES_DIR", pkgs.path().to_str().unwrap())],
    );
    let (_id, secret) = server.create_key("e2e-musl");
    let agent = Agent::new_prefix();
    let out = agent.install(&server.install_command(&secret, None), None, &[]);
    assert!(out.status.success(), "{} {}", stdout(&out), stderr(&out));
    let id = agent.agent_id();
    wait_status(&server, &id, "protected", None, Duration::from_secs(10));
    let pid = agent.pid().unwrap();
    assert_eq!(
        fs::read(format!("/proc/{pid}/exe")).unwrap(),
        fs::read(&musl).unwrap(),
        "the running agent is the static build"
    );
}
