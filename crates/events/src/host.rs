//! Rule-facing fields of the host kinds (process, file, account, network)
//! and which fields each kind can have.

use crate::file::{AccountChange, FileChange, GroupChange};
use crate::process::{Actor, FdTarget, ProcessInfo};
use crate::{EventData, Field, FieldValue, KIND_COUNT};

fn s(v: &str) -> Option<FieldValue<'_>> {
    Some(FieldValue::Str(v))
}

fn ne(v: &str) -> Option<FieldValue<'_>> {
    (!v.is_empty()).then_some(FieldValue::Str(v))
}

fn os(v: &Option<String>) -> Option<FieldValue<'_>> {
    v.as_deref().map(FieldValue::Str)
}

fn int(v: impl Into<i64>) -> Option<FieldValue<'static>> {
    Some(FieldValue::Int(v.into()))
}

fn oint<T: Copy + Into<i64>>(v: Option<T>) -> Option<FieldValue<'static>> {
    v.map(|x| FieldValue::Int(x.into()))
}

fn b(v: bool) -> Option<FieldValue<'static>> {
    Some(FieldValue::Bool(v))
}

/// `0o4755` → `4755`: the octal digits read as a decimal number, so rules
/// write `FileMode: 4755`.
fn octal(mode: u32) -> i64 {
    let mut out = 0i64;
    let mut place = 1i64;
    let mut m = mode & 0o7777;
    while m > 0 {
        out += i64::from(m & 7) * place;
        place *= 10;
        m >>= 3;
    }
    out
}

fn fd_kind(t: &Option<FdTarget>) -> Option<FieldValue<'_>> {
    t.as_ref().map(|t| FieldValue::Str(t.kind.as_str()))
}

fn process(p: &ProcessInfo, field: Field) -> Option<FieldValue<'_>> {
    use Field as F;
    match field {
        F::Image => ne(&p.exe),
        F::CommandLine => s(&p.cmdline),
        F::CurrentDirectory => os(&p.cwd),
        F::User => os(&p.user),
        F::Uid => int(p.uid),
        F::ProcessId => int(p.pid),
        F::ParentProcessId => int(p.ppid),
        F::LogonId => oint(p.login_uid),
        F::ParentImage => p.ancestors.first().and_then(|a| ne(&a.exe)),
        F::ParentCommandLine => p.ancestors.first().and_then(|a| ne(&a.cmdline)),
        F::Ancestors => ne(p.ancestor_images()),
        F::ExeDeleted => b(p.exe_deleted),
        F::Memfd => b(p.memfd),
        F::StdinType => fd_kind(&p.stdin),
        F::StdoutType => fd_kind(&p.stdout),
        F::StderrType => fd_kind(&p.stderr),
        F::StdioRemote => p.inet_stdio().and_then(|t| os(&t.remote)),
        F::StdioInherited => b(p.stdio_inherited),
        F::Partial => b(p.partial),
        _ => None,
    }
}

fn actor(a: &Option<Actor>, field: Field) -> Option<FieldValue<'_>> {
    use Field as F;
    let a = a.as_ref()?;
    match field {
        F::Image => ne(&a.exe),
        F::CommandLine => ne(&a.cmdline),
        F::User => os(&a.user),
        F::Uid => int(a.uid),
        F::ProcessId => int(a.pid),
        F::ParentImage => a.ancestors.first().and_then(|x| ne(&x.exe)),
        F::ParentCommandLine => a.ancestors.first().and_then(|x| ne(&x.cmdline)),
        F::Ancestors => ne(a.ancestor_images()),
        _ => None,
    }
}

fn file(f: &FileChange, field: Field) -> Option<FieldValue<'_>> {
    use Field as F;
    match field {
        F::TargetFilename => s(&f.path),
        F::SourceFilename => os(&f.old_path),
        F::FileCategory => s(&f.category),
        F::FileType => os(&f.file_type),
        F::Sha256 => os(&f.sha256),
        F::OldSha256 => os(&f.old_sha256),
        F::FileMode => f.mode.map(|m| FieldValue::Int(octal(m))),
        F::OldFileMode => f.old_mode.map(|m| FieldValue::Int(octal(m))),
        F::Setuid => b(f.setuid()),
        F::SetuidAdded => b(f.setuid_added()),
        F::FileSize => oint(f.size.map(|v| v.min(i64::MAX as u64) as i64)),
        F::OldFileSize => oint(f.old_size.map(|v| v.min(i64::MAX as u64) as i64)),
        F::Truncated => b(f.truncated),
        F::LinesAdded => oint(f.lines_added),
        F::LinesRemoved => oint(f.lines_removed),
        F::AddedLines => ne(&f.added),
        F::Package => os(&f.package),
        F::ByPackage => b(f.by_package),
        F::Tool => os(&f.tool),
        F::LinkTarget => os(&f.link_target),
        F::OwnerUid => oint(f.owner_uid),
        F::SeenBy => s(&f.seen_by),
        _ => actor(&f.actor, field),
    }
}

fn account(a: &AccountChange, field: Field) -> Option<FieldValue<'_>> {
    use Field as F;
    match field {
        F::User => s(&a.user),
        F::Uid => int(a.uid),
        F::Gid => int(a.gid),
        F::HomeDirectory => s(&a.home),
        F::Shell => s(&a.shell),
        F::OldUid => oint(a.old_uid),
        F::Changed => ne(&a.changed),
        F::ByPackage => b(a.by_package),
        _ => None,
    }
}

fn group(g: &GroupChange, field: Field) -> Option<FieldValue<'_>> {
    use Field as F;
    match field {
        F::Group => s(&g.group),
        F::Gid => int(g.gid),
        F::Members => ne(&g.members),
        F::AddedMembers => ne(&g.added),
        F::RemovedMembers => ne(&g.removed),
        F::ByPackage => b(g.by_package),
        _ => None,
    }
}

/// Field lookup for host payloads (envelope fields are handled by the caller).
pub(crate) fn get(data: &EventData, field: Field) -> Option<FieldValue<'_>> {
    use Field as F;
    match data {
        EventData::ProcessExec(p) | EventData::ProcessRunning(p) => process(p, field),
        EventData::ProcessExeDeleted(e) => match field {
            F::ExeReplaced => b(e.replaced),
            _ => process(&e.process, field),
        },
        EventData::ProcessCpu(c) => match field {
            F::CpuPercent => int(c.cpu_percent),
            F::Packaged => c.packaged.map(FieldValue::Bool),
            _ => process(&c.process, field),
        },
        EventData::FileCreated(f)
        | EventData::FileModified(f)
        | EventData::FileDeleted(f)
        | EventData::FileRenamed(f)
        | EventData::FileAttrib(f) => file(f, field),
        EventData::AccountCreated(a)
        | EventData::AccountDeleted(a)
        | EventData::AccountModified(a) => account(a, field),
        EventData::GroupCreated(g) | EventData::GroupDeleted(g) | EventData::GroupModified(g) => {
            group(g, field)
        }
        EventData::NetConnect(n) => match field {
            F::Protocol => s(&n.protocol),
            F::SourceIp => Some(FieldValue::Ip(n.src_ip)),
            F::SourcePort => int(n.src_port),
            F::DestinationIp => Some(FieldValue::Ip(n.dst_ip)),
            F::DestinationPort => int(n.dst_port),
            F::Initiated => b(n.initiated),
            _ => actor(&n.process, field),
        },
        _ => None,
    }
}

/// Every kind has these; `Message` (the raw line) only the log-line kinds.
const ENVELOPE: &[Field] = &[Field::Kind, Field::Host, Field::Source];

const PROCESS: &[Field] = &[
    Field::Image,
    Field::CommandLine,
    Field::CurrentDirectory,
    Field::User,
    Field::Uid,
    Field::ProcessId,
    Field::ParentProcessId,
    Field::LogonId,
    Field::ParentImage,
    Field::ParentCommandLine,
    Field::Ancestors,
    Field::ExeDeleted,
    Field::Memfd,
    Field::StdinType,
    Field::StdoutType,
    Field::StderrType,
    Field::StdioRemote,
    Field::StdioInherited,
    Field::Partial,
];

const ACTOR: &[Field] = &[
    Field::Image,
    Field::CommandLine,
    Field::User,
    Field::Uid,
    Field::ProcessId,
    Field::ParentImage,
    Field::ParentCommandLine,
    Field::Ancestors,
];

const FILE: &[Field] = &[
    Field::TargetFilename,
    Field::SourceFilename,
    Field::FileCategory,
    Field::FileType,
    Field::Sha256,
    Field::OldSha256,
    Field::FileMode,
    Field::OldFileMode,
    Field::Setuid,
    Field::SetuidAdded,
    Field::FileSize,
    Field::OldFileSize,
    Field::Truncated,
    Field::LinesAdded,
    Field::LinesRemoved,
    Field::AddedLines,
    Field::Package,
    Field::ByPackage,
    Field::Tool,
    Field::LinkTarget,
    Field::OwnerUid,
    Field::SeenBy,
];

const ACCOUNT: &[Field] = &[
    Field::User,
    Field::Uid,
    Field::Gid,
    Field::HomeDirectory,
    Field::Shell,
    Field::OldUid,
    Field::Changed,
    Field::ByPackage,
];

const GROUP: &[Field] = &[
    Field::Group,
    Field::Gid,
    Field::Members,
    Field::AddedMembers,
    Field::RemovedMembers,
    Field::ByPackage,
];

const NET: &[Field] = &[
    Field::Protocol,
    Field::SourceIp,
    Field::SourcePort,
    Field::DestinationIp,
    Field::DestinationPort,
    Field::Initiated,
];

const AUTH: &[&[Field]] = &[
    // auth.ssh_failed
    &[
        Field::User,
        Field::SourceIp,
        Field::SourcePort,
        Field::AuthMethod,
        Field::InvalidUser,
        Field::Service,
    ],
    // auth.ssh_accepted
    &[
        Field::User,
        Field::SourceIp,
        Field::SourcePort,
        Field::AuthMethod,
        Field::Key,
        Field::InvalidUser,
        Field::Service,
    ],
    // auth.ssh_invalid_user
    &[
        Field::User,
        Field::SourceIp,
        Field::SourcePort,
        Field::InvalidUser,
        Field::Service,
    ],
    // auth.ssh_preauth_disconnect
    &[
        Field::User,
        Field::SourceIp,
        Field::SourcePort,
        Field::InvalidUser,
        Field::Service,
    ],
    // auth.pam_failed
    &[
        Field::User,
        Field::Service,
        Field::RemoteUser,
        Field::RemoteHost,
        Field::SourceIp,
        Field::Tty,
    ],
    // auth.su_failed
    &[Field::User, Field::TargetUser, Field::Tty, Field::Service],
    // auth.sudo_failed
    &[
        Field::User,
        Field::TargetUser,
        Field::Tty,
        Field::CurrentDirectory,
        Field::CommandLine,
        Field::Reason,
        Field::Service,
    ],
    // auth.session_opened
    &[Field::User, Field::Service, Field::ByUser],
    // auth.session_closed
    &[Field::User, Field::Service],
];

/// Whether events of `kind_index` can have `field` (some optional fields
/// are absent in a given event). Rule loading uses it to report fields a
/// rule tests that no event of its log source carries.
pub fn kind_fields(kind_index: usize, field: Field) -> bool {
    if kind_index >= KIND_COUNT {
        return false;
    }
    if ENVELOPE.contains(&field) {
        return true;
    }
    let lists: &[&[Field]] = match kind_index {
        0..=8 => return field == Field::Message || AUTH[kind_index].contains(&field),
        9 | 10 => &[PROCESS],
        11 => &[PROCESS, &[Field::ExeReplaced]],
        12 => &[PROCESS, &[Field::CpuPercent, Field::Packaged]],
        13..=17 => &[FILE, ACTOR],
        18..=20 => &[ACCOUNT],
        21..=23 => &[GROUP],
        _ => &[NET, ACTOR],
    };
    lists.iter().any(|l| l.contains(&field))
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
