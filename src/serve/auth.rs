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
