//! Security software known to conflict with the Ward agent: other EDR and
//! host-intrusion agents hook the same kernel interfaces (process events,
//! audit, fanotify), may block or quarantine `ward-agent`, or cut its
//! connection. The table is ours; the README lists it.

use super::procfs::Proc;

/// One known product: the process names it runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    pub name: &'static str,
    pub processes: &'static [&'static str],
}

/// Known conflicting products and their process names.
pub const KNOWN: &[Product] = &[
    Product {
        name: "CrowdStrike Falcon",
        processes: &["falcon-sensor", "falcond"],
    },
    Product {
        name: "Alibaba Cloud Security Center (Aegis)",
        processes: &["AliYunDun", "AliYunDunMonitor", "AliYunDunUpdate"],
    },
    Product {
        name: "Tencent Cloud Workload Protection (YunJing)",
        processes: &["YDService", "YDLive"],
    },
    Product {
        name: "Huawei Cloud Host Security Service",
        processes: &["hostguard"],
    },
    Product {
        name: "Trend Micro Deep Security",
        processes: &["ds_agent"],
    },
    Product {
        name: "Microsoft Defender for Endpoint",
        processes: &["wdavdaemon", "mdatp_audisp_plugin"],
    },
    Product {
        name: "SentinelOne",
        processes: &["s1-agent", "s1-orchestrator", "s1-scanner"],
    },
    Product {
        name: "VMware Carbon Black",
        processes: &["cbagentd", "cbdaemon"],
    },
    Product {
        name: "Trellix (FireEye) Endpoint Security",
        processes: &["xagt"],
    },
    Product {
        name: "Cylance",
        processes: &["cylancesvc"],
    },
    Product {
        name: "Elastic Defend",
        processes: &["elastic-endpoint"],
    },
    Product {
        name: "Wazuh / OSSEC agent",
        processes: &["wazuh-agentd", "ossec-agentd", "wazuh-modulesd"],
    },
    Product {
        name: "Sophos Protection for Linux",
        processes: &["sophos_threat_detector"],
    },
];

/// Linux keeps 15 bytes of a process name in `comm`.
const COMM_LEN: usize = 15;

fn name_matches(known: &str, p: &Proc) -> bool {
    let comm_form = &known[..known.len().min(COMM_LEN)];
    p.comm == comm_form || p.exe_name.as_deref() == Some(known)
}

/// The running processes that belong to a known product.
pub fn find<'a>(procs: &'a [Proc], table: &'static [Product]) -> Vec<(&'static Product, &'a Proc)> {
    let mut out = Vec::new();
    for p in procs {
        for product in table {
            if product.processes.iter().any(|n| name_matches(n, p)) {
                out.push((product, p));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: u32, comm: &str, exe: Option<&str>) -> Proc {
        Proc {
            pid,
            comm: comm.into(),
            exe_name: exe.map(str::to_string),
            ticks: 0,
        }
    }

    #[test]
    fn matches_by_comm_truncation_and_exe_name() {
        let procs = vec![
            proc(1, "init", Some("init")),
            proc(10, "falcon-sensor", Some("falcon-sensor")),
            // comm keeps 15 bytes: "sophos_threat_detector" -> "sophos_threat_d".
            proc(11, "sophos_threat_d", None),
            // Renamed comm, but the executable gives it away.
            proc(12, "worker", Some("AliYunDun")),
            proc(13, "falcon", Some("falcon")),
            proc(14, "ward-agent", Some("ward-agent")),
        ];
        let hits = find(&procs, KNOWN);
        let got: Vec<(&str, u32)> = hits.iter().map(|(p, pr)| (p.name, pr.pid)).collect();
        assert_eq!(
            got,
            vec![
                ("CrowdStrike Falcon", 10),
                ("Sophos Protection for Linux", 11),
                ("Alibaba Cloud Security Center (Aegis)", 12),
            ]
        );
    }

    #[test]
    fn table_is_well_formed() {
        for p in KNOWN {
            assert!(!p.processes.is_empty(), "{}", p.name);
            for n in p.processes {
                assert!(!n.is_empty() && !n.contains('/'), "{n}");
                assert_ne!(*n, "ward-agent");
            }
        }
    }
}
