//! Sign-in sessions of the explorer: a random token in an HttpOnly, SameSite=Strict cookie, an
//! expiry, and a CSRF token that every state-changing request must send back in a header.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::sql::Role;

/// Name of the session cookie.
pub const COOKIE: &str = "hotline_session";

/// Header carrying the CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// One signed-in user.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// User name.
    pub user: String,
    /// Role.
    pub role: Role,
    /// The token state-changing requests must send in [`CSRF_HEADER`].
    pub csrf: String,
    /// When the sign-in ends.
    pub expires: Instant,
}

/// 32 random bytes as hex.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Starts a sign-in; returns its session token.
pub fn sign_in(sessions: &mut HashMap<String, SignIn>, user: &str, role: Role, ttl: Duration) -> (String, SignIn) {
    let now = Instant::now();
    // Expired sign-ins go whenever someone signs in, so the map stays as large as the live ones.
    sessions.retain(|_, s| s.expires > now);
    let sign_in = SignIn { user: user.to_owned(), role, csrf: token(), expires: now + ttl };
    let id = token();
    sessions.insert(id.clone(), sign_in.clone());
    (id, sign_in)
}

/// The live sign-in of a session token (an expired one is removed).
pub fn look_up(sessions: &mut HashMap<String, SignIn>, id: &str) -> Option<SignIn> {
    match sessions.get(id) {
        Some(s) if s.expires > Instant::now() => Some(s.clone()),
        Some(_) => {
            sessions.remove(id);
            None
        }
        None => None,
    }
}

/// Failed sign-ins in a row a user name is allowed before it is locked.
pub const FREE_FAILURES: u32 = 5;

/// The first lock; each further failure doubles it, up to [`LONGEST_LOCK`].
pub const FIRST_LOCK: Duration = Duration::from_secs(30);

/// The longest lock.
pub const LONGEST_LOCK: Duration = Duration::from_secs(15 * 60);

/// User names with failures the throttle remembers at most (names tried by a hostile client
/// cannot grow it without bound: past this, the longest-settled entries are forgotten).
const REMEMBERED: usize = 10_000;

/// Failed sign-ins by user name: after [`FREE_FAILURES`] in a row the name is refused, even with
/// the right password, until its lock ends, which stops a password being guessed online. A
/// successful sign-in clears the count.
#[derive(Debug, Default)]
pub struct Throttle {
    /// Failures in a row and the end of the lock (the last failure's time while not locked).
    failures: HashMap<String, (u32, Instant)>,
}

impl Throttle {
    /// How long the name is still locked, if it is.
    pub fn locked(&self, user: &str, now: Instant) -> Option<Duration> {
        match self.failures.get(user) {
            Some(&(n, until)) if n >= FREE_FAILURES && until > now => Some(until - now),
            _ => None,
        }
    }

    /// Records a failure; returns the lock it starts, if any.
    pub fn failed(&mut self, user: &str, now: Instant) -> Option<Duration> {
        if self.failures.len() >= REMEMBERED && !self.failures.contains_key(user) {
            // Forget names whose lock (or last failure) is longest past; keep the locked ones.
            self.failures.retain(|_, &mut (_, until)| until + LONGEST_LOCK > now);
            if self.failures.len() >= REMEMBERED {
                let mut ends: Vec<Instant> = self.failures.values().map(|&(_, until)| until).collect();
                ends.sort();
                let cut = ends[ends.len() / 2];
                self.failures.retain(|_, &mut (_, until)| until > cut);
            }
        }
        let entry = self.failures.entry(user.to_owned()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        if entry.0 < FREE_FAILURES {
            entry.1 = now;
            return None;
        }
        let doublings = (entry.0 - FREE_FAILURES).min(16);
        let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(LONGEST_LOCK);
        entry.1 = now + lock;
        Some(lock)
    }

    /// Clears the count after a successful sign-in.
    pub fn succeeded(&mut self, user: &str) {
        self.failures.remove(user);
    }
}

/// The session token of a `Cookie` header.
pub fn cookie_token(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .map(str::trim)
        .find_map(|pair| pair.strip_prefix(COOKIE).and_then(|rest| rest.strip_prefix('=')))
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value of a new sign-in.
pub fn set_cookie(id: &str, ttl: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", ttl.as_secs())
}

/// The `Set-Cookie` value that ends a sign-in in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Compares two tokens in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_locked_after_five_failures_for_doubling_times_and_a_success_clears_it() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            assert_eq!(t.failed("wang", now), None);
        }
        assert_eq!(t.locked("wang", now), None);
        assert_eq!(t.failed("wang", now), Some(FIRST_LOCK));
        assert_eq!(t.locked("wang", now + Duration::from_secs(10)), Some(FIRST_LOCK - Duration::from_secs(10)));
        assert_eq!(t.locked("li", now), None, "another name is not locked");
        let later = now + FIRST_LOCK;
        assert_eq!(t.locked("wang", later), None, "the lock ends");
        assert_eq!(t.failed("wang", later), Some(FIRST_LOCK * 2), "the next failure locks twice as long");
        for _ in 0..20 {
            t.failed("wang", later);
        }
        assert_eq!(t.locked("wang", later), Some(LONGEST_LOCK));
        t.succeeded("wang");
        assert_eq!(t.locked("wang", later), None);
        assert_eq!(t.failed("wang", later), None, "the count starts again");
    }

    #[test]
    fn names_tried_by_a_hostile_client_do_not_grow_the_throttle_without_bound() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            t.failed("wang", now);
        }
        for i in 0..3 * REMEMBERED {
            t.failed(&format!("guess{i}"), now + Duration::from_millis(i as u64));
        }
        assert!(t.failures.len() <= REMEMBERED, "{}", t.failures.len());
        assert!(t.locked("wang", now).is_some(), "a locked name is not forgotten for new ones");
    }

    #[test]
    fn a_sign_in_lives_until_its_expiry_and_the_cookie_is_strict_and_http_only() {
        let mut sessions = HashMap::new();
        let (id, s) = sign_in(&mut sessions, "li", Role::Analyst, Duration::from_secs(60));
        assert_eq!(look_up(&mut sessions, &id).map(|x| x.user), Some("li".to_owned()));
        assert_ne!(s.csrf, id);
        let cookie = set_cookie(&id, Duration::from_secs(60), false);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Max-Age=60"));
        assert_eq!(cookie_token(&format!("a=b; {}", cookie.split(';').next().unwrap())), Some(id.as_str()));
        assert_eq!(cookie_token("hotline_session=<script>"), None);
        let (old, _) = sign_in(&mut sessions, "zhao", Role::Analyst, Duration::ZERO);
        assert!(look_up(&mut sessions, &old).is_none());
        assert!(!sessions.contains_key(&old));
        assert!(same_token(&s.csrf, &s.csrf.clone()) && !same_token(&s.csrf, &id));
    }
}
