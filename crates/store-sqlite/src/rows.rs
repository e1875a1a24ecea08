//! Row <-> record conversions shared by the queries.

use rusqlite::types::Type;
use rusqlite::Row;
use ward_proto::HostReport;
use ward_store::{Asset, Status, StatusReason};

/// Columns of [`asset_from_row`], in order.
pub(crate) const ASSET_COLS: &str = "id, hostname, ips, os, kernel, arch, platform, \
    agent_version, group_name, fingerprint, status, status_reason, status_since, \
    first_seen, last_seen, last_addr, last_error, last_endpoint, enrolled_at, \
    enrolled_with_key, report, report_at, spool_depth, spool_dropped_total, spool_at";

fn bad(idx: usize, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, msg.into())
}

pub(crate) fn status_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Status> {
    let s: String = row.get(idx)?;
    Status::parse(&s).ok_or_else(|| bad(idx, format!("unknown status {s:?}")))
}

pub(crate) fn reason_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<StatusReason>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| StatusReason::parse(&s).ok_or_else(|| bad(idx, format!("unknown reason {s:?}"))))
        .transpose()
}

fn json_at<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let s: String = row.get(idx)?;
    serde_json::from_str(&s).map_err(|e| bad(idx, format!("bad JSON: {e}")))
}

pub(crate) fn asset_from_row(row: &Row<'_>) -> rusqlite::Result<Asset> {
    let report: Option<HostReport> = match row.get_ref(20)? {
        rusqlite::types::ValueRef::Null => None,
        _ => Some(json_at(row, 20)?),
    };
    Ok(Asset {
        id: row.get(0)?,
        hostname: row.get(1)?,
        ips: json_at(row, 2)?,
        os: row.get(3)?,
        kernel: row.get(4)?,
        arch: row.get(5)?,
        platform: row.get(6)?,
        agent_version: row.get(7)?,
        group: row.get(8)?,
        fingerprint: row.get(9)?,
        status: status_at(row, 10)?,
        status_reason: reason_at(row, 11)?,
        status_since: row.get(12)?,
        first_seen: row.get(13)?,
        last_seen: row.get(14)?,
        last_addr: row.get(15)?,
        last_error: row.get(16)?,
        last_endpoint: row.get(17)?,
        enrolled_at: row.get(18)?,
        enrolled_with_key: row.get(19)?,
        report,
        report_at: row.get(21)?,
        spool: crate::events::spool_at(row, 22)?,
    })
}

/// Serialises plain data to JSON. These types (strings, numbers, vectors)
/// cannot fail to serialise; the error path exists only to avoid a panic.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, ward_store::StoreError> {
    serde_json::to_string(v)
        .map_err(|e| ward_store::StoreError::Backend(format!("cannot encode JSON: {e}")))
}

/// Separator of the fields of `search_text`; no hostname or address holds it.
pub(crate) const SEARCH_SEP: char = '\u{1f}';

/// `search_text` of a report: lower-cased hostname, then each IP, joined by
/// [`SEARCH_SEP`].
pub(crate) fn search_text(r: &HostReport) -> String {
    let mut s = r.hostname.to_lowercase();
    for ip in &r.ips {
        s.push(SEARCH_SEP);
        s.push_str(&ip.to_lowercase());
    }
    s
}

/// The columns derived from a host report.
pub(crate) struct ReportCols {
    pub hostname: String,
    pub hostname_lower: String,
    /// Lower-cased hostname and IPs joined by U+001F (see migration 0003).
    pub search_text: String,
    pub ips: String,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    pub agent_version: String,
    pub report: String,
}

impl ReportCols {
    pub(crate) fn of(r: &HostReport) -> Result<ReportCols, ward_store::StoreError> {
        Ok(ReportCols {
            hostname: r.hostname.clone(),
            hostname_lower: r.hostname.to_lowercase(),
            search_text: search_text(r),
            ips: to_json(&r.ips)?,
            os: r.os.clone(),
            kernel: r.kernel.clone(),
            arch: r.arch.clone(),
            agent_version: r.agent_version.clone(),
            report: to_json(r)?,
        })
    }
}
