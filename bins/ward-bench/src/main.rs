//! `ward-bench`: a load generator for `ward-server`.
//!
//! `ward-bench agents --count N …` enrolls N simulated agents through the
//! real enrollment endpoint, opens N sessions with real TLS (the agent's
//! pinned verifier) and the real wire protocol (`ward-proto` v1, the agent's
//! own handshake code from `ward-agent-core`), holds them while sending
//! keepalives at the server's interval, and reports what the server held,
//! its RSS and CPU, the keepalive rate and latency, and the time until the
//! server shows every agent protected.
//!
//! Modules: [`cli`] (syntax), [`run`] (setup and report), [`phases`] (ramp
//! and hold), [`enroll`] (bulk
//! enrollment and the credentials file), [`session`] (one simulated agent),
//! [`net`] (fd limit, bind-before-connect, TLS config), [`iprange`] (source
//! addresses), [`monitor`] and [`procstat`] (sampling), [`server_api`]
//! (`/metrics` and the assets API), [`stats`] (counters, histograms) and
//! [`report`] (summary, JSON).

mod cli;
mod enroll;
mod iprange;
mod monitor;
mod net;
mod phases;
mod procstat;
mod report;
mod run;
mod server_api;
mod session;
mod stats;

#[cfg(test)]
mod e2e_tests;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let threads = cli
        .threads
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(2)
        .max(1);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ward-bench: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        cli::Command::Agents(args) => {
            let json = args.json;
            rt.block_on(run::agents(args, threads)).map(|r| (r, json))
        }
    };
    let code = match result {
        Ok((r, json)) => {
            if json {
                match serde_json::to_string_pretty(&r) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("ward-bench: encoding the report: {e}"),
                }
            } else {
                print!("{}", report::text(&r));
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ward-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    };
    // Do not wait for 100,000 session tasks to wind down.
    rt.shutdown_background();
    code
}
