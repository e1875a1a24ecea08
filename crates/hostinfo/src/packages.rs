//! The package manager as the collectors need it: which programs are
//! package managers, and which installed Debian package owns a path
//! (`/var/lib/dpkg/info/*.list`).

use std::path::Path;

/// Process names (`comm`, at most 15 bytes) of package managers and of the
/// front ends that run them.
pub const PACKAGE_MANAGERS: &[&str] = &[
    "dpkg",
    "dpkg-deb",
    "dpkg-divert",
    "dpkg-statoverri",
    "dpkg-trigger",
    "apt",
    "apt-get",
    "aptitude",
    "unattended-upgr",
    "packagekitd",
    "rpm",
    "rpmkeys",
    "dnf",
    "yum",
    "microdnf",
    "zypper",
    "apk",
    "pacman",
];

/// Whether `comm` (a process name) is a package manager.
pub fn is_package_manager(comm: &str) -> bool {
    PACKAGE_MANAGERS.contains(&comm)
}

/// Directories package managers are installed in: a program of the same
/// name elsewhere (`/tmp/dpkg`) is not one.
const SYSTEM_DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/bin", "/sbin"];

/// Whether an executable path is a package manager's (by name, in a
/// system directory).
pub fn is_package_manager_exe(exe: &str) -> bool {
    let Some((dir, name)) = exe.rsplit_once('/') else {
        return false;
    };
    if !SYSTEM_DIRS.contains(&dir) {
        return false;
    }
    // comm is cut at 15 bytes; executables are not.
    is_package_manager(name)
        || matches!(
            name,
            "dpkg-statoverride" | "unattended-upgrade" | "unattended-upgrades"
        )
}

/// The paths dpkg may list for `path` on a merged-/usr system (`/bin/ls`
/// for `/usr/bin/ls` and the other way round).
pub fn dpkg_aliases(path: &str) -> Vec<String> {
    let mut out = vec![path.to_string()];
    const MERGED: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];
    for d in MERGED {
        let usr = format!("/usr/{d}/");
        let root = format!("/{d}/");
        if let Some(rest) = path.strip_prefix(&usr) {
            out.push(format!("{root}{rest}"));
        } else if let Some(rest) = path.strip_prefix(&root) {
            out.push(format!("{usr}{rest}"));
        }
    }
    out
}

/// The package whose file list (`info/<pkg>[:arch].list` under
/// `dpkg_dir`, normally `/var/lib/dpkg`) names `path`, if any. Reads every
/// list file: call it for rare events only.
pub fn dpkg_owner(dpkg_dir: &Path, path: &str) -> Option<String> {
    let wanted = dpkg_aliases(path);
    let rd = std::fs::read_dir(dpkg_dir.join("info")).ok()?;
    for entry in rd.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pkg) = name.strip_suffix(".list") else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        if text.lines().any(|l| wanted.iter().any(|w| w == l)) {
            return Some(pkg.split(':').next().unwrap_or(pkg).to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_manager_names() {
        assert!(is_package_manager("dpkg"));
        assert!(is_package_manager("unattended-upgr"));
        assert!(!is_package_manager("bash"));
        assert!(is_package_manager_exe("/usr/bin/apt-get"));
        assert!(is_package_manager_exe("/usr/bin/unattended-upgrade"));
        assert!(!is_package_manager_exe("/tmp/dpkg-helper"));
        assert!(
            !is_package_manager_exe("/tmp/dpkg"),
            "not in a system directory"
        );
        assert!(!is_package_manager_exe("dpkg"));
    }

    #[test]
    fn merged_usr_aliases() {
        assert_eq!(dpkg_aliases("/usr/bin/ls"), vec!["/usr/bin/ls", "/bin/ls"]);
        assert_eq!(dpkg_aliases("/sbin/ip"), vec!["/sbin/ip", "/usr/sbin/ip"]);
        assert_eq!(dpkg_aliases("/etc/hosts"), vec!["/etc/hosts"]);
    }

    #[test]
    fn owner_from_list_files() {
        let dir = tempfile::tempdir().unwrap();
        let info = dir.path().join("info");
        std::fs::create_dir(&info).unwrap();
        std::fs::write(info.join("coreutils.list"), "/.\n/bin\n/bin/ls\n").unwrap();
        std::fs::write(
            info.join("libc6:amd64.list"),
            "/usr/lib/x86_64-linux-gnu/libc.so.6\n",
        )
        .unwrap();
        std::fs::write(info.join("coreutils.md5sums"), "/bin/cat\n").unwrap();
        assert_eq!(
            dpkg_owner(dir.path(), "/usr/bin/ls").as_deref(),
            Some("coreutils")
        );
        assert_eq!(
            dpkg_owner(dir.path(), "/lib/x86_64-linux-gnu/libc.so.6").as_deref(),
            Some("libc6")
        );
        assert_eq!(
            dpkg_owner(dir.path(), "/bin/cat"),
            None,
            "only .list files count"
        );
        assert_eq!(dpkg_owner(&dir.path().join("nope"), "/bin/ls"), None);
    }
}
