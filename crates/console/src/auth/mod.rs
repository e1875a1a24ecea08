//! Who may use the console: the administrator password, sessions, CSRF
//! tokens and the sign-in rate limiter, bundled in [`ConsoleAuth`].

pub mod cookie;
pub mod csrf;
pub mod password;
pub mod ratelimit;
pub mod session;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::AuthError;
use password::{PasswordCost, PasswordFile};
use ratelimit::{SignInLimiter, SignInLimits};
use session::{NewSession, SessionInfo, SessionLimits, SessionStore};

/// Password checks run at once (each costs ~19 MiB and tens of ms of CPU).
const CONCURRENT_VERIFIES: usize = 2;

/// Limits and costs of [`ConsoleAuth`]; the defaults are the production ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthOptions {
    pub sessions: SessionLimits,
    pub sign_in: SignInLimits,
    pub password_cost: PasswordCost,
}

/// Outcome of a sign-in attempt.
#[derive(Debug)]
pub enum SignIn {
    /// Right password: a new signed-in session.
    Ok(NewSession),
    /// Wrong password (recorded against the address).
    Wrong,
    /// The address failed too often; seconds to wait.
    Limited(u64),
    /// No password file: `ward-server admin set-password` must run first.
    NoPassword,
}

/// The console's authentication state of one server.
#[derive(Debug)]
pub struct ConsoleAuth {
    password: PasswordFile,
    sessions: SessionStore,
    limiter: SignInLimiter,
    verify_permits: Arc<Semaphore>,
}

impl ConsoleAuth {
    /// Auth for the server whose data dir is `data_dir`. When there is no
    /// password yet, one is generated and returned (to be printed once).
    pub fn open(data_dir: &Path) -> Result<(ConsoleAuth, Option<String>), AuthError> {
        let auth = ConsoleAuth::with_options(data_dir, AuthOptions::default());
        let first = auth.password.ensure()?;
        Ok((auth, first))
    }

    /// Auth with explicit options; creates no password.
    pub fn with_options(data_dir: &Path, o: AuthOptions) -> ConsoleAuth {
        ConsoleAuth {
            password: PasswordFile::with_cost(data_dir, o.password_cost),
            sessions: SessionStore::new(o.sessions),
            limiter: SignInLimiter::new(o.sign_in),
            verify_permits: Arc::new(Semaphore::new(CONCURRENT_VERIFIES)),
        }
    }

    pub fn password_file(&self) -> &PasswordFile {
        &self.password
    }

    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// The session of a cookie value. A signed-in session made under a
    /// password that has since been reset comes back as `None`.
    pub fn session(&self, token: &str, now: i64) -> Result<Option<SessionInfo>, AuthError> {
        let Some(info) = self.sessions.get(token, now) else {
            return Ok(None);
        };
        if let Some(gen) = &info.signed_in {
            let current = self.password.current()?;
            if current.as_ref().map(|c| &c.generation) != Some(gen) {
                self.sessions.remove(token);
                return Ok(None);
            }
        }
        Ok(Some(info))
    }

    /// A new anonymous session (for the sign-in form).
    pub fn anonymous_session(&self, now: i64) -> NewSession {
        self.sessions.create(None, now)
    }

    /// Checks a password from `ip`; on success ends `old_token`'s session
    /// and starts a signed-in one.
    pub async fn sign_in(
        &self,
        ip: IpAddr,
        password: String,
        old_token: Option<&str>,
        now: i64,
    ) -> Result<SignIn, AuthError> {
        if let Err(wait) = self.limiter.check(ip, now) {
            return Ok(SignIn::Limited(wait));
        }
        let Some(state) = self.password.current()? else {
            return Ok(SignIn::NoPassword);
        };
        let permit = self
            .verify_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AuthError::Task(e.to_string()))?;
        let hash = state.hash.clone();
        let ok = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            password::verify_password(&hash, &password)
        })
        .await
        .map_err(|e| AuthError::Task(e.to_string()))?;
        if !ok {
            self.limiter.failed(ip, now);
            return Ok(SignIn::Wrong);
        }
        self.limiter.succeeded(ip);
        if let Some(old) = old_token {
            self.sessions.remove(old);
        }
        Ok(SignIn::Ok(
            self.sessions.create(Some(state.generation.clone()), now),
        ))
    }

    /// Signs a session out.
    pub fn sign_out(&self, token: &str) {
        self.sessions.remove(token);
    }

    /// Cookie lifetime of signed-in sessions, in seconds.
    pub fn signed_in_max_age_secs(&self) -> i64 {
        self.sessions.limits().absolute_ms / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> IpAddr {
        "192.0.2.7".parse().unwrap()
    }

    fn cheap() -> AuthOptions {
        AuthOptions {
            password_cost: PasswordCost::MINIMAL,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn sign_in_rotates_the_session_and_a_reset_signs_everyone_out() {
        let dir = tempfile::tempdir().unwrap();
        let auth = ConsoleAuth::with_options(dir.path(), cheap());
        let first = auth
            .password_file()
            .ensure()
            .unwrap()
            .expect("first password");
        let anon = auth.anonymous_session(0);
        assert_eq!(
            auth.session(&anon.token, 1).unwrap().unwrap().signed_in,
            None
        );

        let s = match auth
            .sign_in(ip(), first.clone(), Some(&anon.token), 2)
            .await
            .unwrap()
        {
            SignIn::Ok(s) => s,
            other => panic!("expected success, got {other:?}"),
        };
        assert_ne!(s.token, anon.token, "a new session id at sign-in");
        assert_ne!(s.csrf, anon.csrf, "a new CSRF token at sign-in");
        assert!(auth.session(&anon.token, 3).unwrap().is_none());
        assert!(auth
            .session(&s.token, 3)
            .unwrap()
            .unwrap()
            .signed_in
            .is_some());

        // Reset (as `ward-server admin set-password` does, from another handle).
        PasswordFile::with_cost(dir.path(), PasswordCost::MINIMAL)
            .set("another password!")
            .unwrap();
        assert!(auth.session(&s.token, 4).unwrap().is_none());
        assert!(matches!(
            auth.sign_in(ip(), first, None, 5).await.unwrap(),
            SignIn::Wrong
        ));
        assert!(matches!(
            auth.sign_in(ip(), "another password!".into(), None, 6)
                .await
                .unwrap(),
            SignIn::Ok(_)
        ));
    }

    #[tokio::test]
    async fn repeated_failures_lock_out_even_the_right_password() {
        let dir = tempfile::tempdir().unwrap();
        let auth = ConsoleAuth::with_options(
            dir.path(),
            AuthOptions {
                sign_in: SignInLimits {
                    max_failures: 3,
                    window_ms: 60_000,
                    prune_at: 100,
                },
                ..cheap()
            },
        );
        assert!(matches!(
            auth.sign_in(ip(), "whatever".into(), None, 0)
                .await
                .unwrap(),
            SignIn::NoPassword
        ));
        auth.password_file().set("the right password").unwrap();
        for t in 0..3 {
            assert!(matches!(
                auth.sign_in(ip(), "wrong".into(), None, t).await.unwrap(),
                SignIn::Wrong
            ));
        }
        match auth
            .sign_in(ip(), "the right password".into(), None, 10)
            .await
            .unwrap()
        {
            SignIn::Limited(wait) => assert_eq!(wait, 60),
            other => panic!("expected 429, got {other:?}"),
        }
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(matches!(
            auth.sign_in(other, "the right password".into(), None, 10)
                .await
                .unwrap(),
            SignIn::Ok(_)
        ));
    }
}
