//! `ward-server admin set-password`: reads a new console password and
//! stores its argon2id hash in the data dir (0600).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{anyhow, Context};
use ward_console::auth::password::{check_new_password, PasswordFile};

use crate::Failure;

pub fn set_password(data_dir: &Path) -> Result<(), Failure> {
    let password = if std::io::stdin().is_terminal() {
        let first = prompt("New console password: ")?;
        check_new_password(&first).map_err(|e| Failure::Usage(anyhow!(e)))?;
        let again = prompt("Repeat it: ")?;
        if again != first {
            return Err(Failure::Usage(anyhow!(
                "the two passwords differ; nothing changed"
            )));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    check_new_password(&password).map_err(|e| Failure::Usage(anyhow!(e)))?;
    let file = PasswordFile::new(data_dir);
    file.set(&password)
        .with_context(|| format!("writing {}", file.path().display()))?;
    eprintln!(
        "Console password set ({}). Signed-in console sessions end at their next request.",
        file.path().display()
    );
    Ok(())
}

/// Reads one line from the terminal with echo off.
fn prompt(text: &str) -> Result<String, Failure> {
    eprint!("{text}");
    std::io::stderr().flush().ok();
    let echo = EchoOff::new();
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    drop(echo);
    eprintln!();
    read.context("reading the password")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Turns terminal echo off on standard input until dropped.
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0 or fails.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return EchoOff(None);
        }
        let saved = t;
        t.c_lflag &= !libc::ECHO;
        // SAFETY: t is a valid termios obtained above.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) } != 0 {
            return EchoOff(None);
        }
        EchoOff(Some(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            // SAFETY: restores the settings read in `new`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}
