//! The users file of `hotline serve`: each user's name, role, argon2id password hash (PHC
//! string) and SCRAM-SHA-256 verifier for the PostgreSQL endpoint, kept as TOML readable by its
//! owner only.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use datafusion_postgres::pgwire::api::auth::sasl::scram::gen_salted_password;
use serde::{Deserialize, Serialize};

use super::ServeError;
use crate::sql::Role;

/// File name of the users file inside the warehouse folder when `--users` is not given.
pub const USERS_FILE: &str = "users.toml";

/// The users file of a warehouse folder.
pub fn default_users_file(warehouse: &Path) -> PathBuf {
    warehouse.join(USERS_FILE)
}

/// One user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// Sign-in name.
    pub name: String,
    /// `analyst` or `investigator`.
    pub role: String,
    /// Argon2id hash of the password (PHC string).
    pub password: String,
    /// SCRAM-SHA-256 verifier for the PostgreSQL endpoint (salt and salted password); users
    /// added before the endpoint existed have none until their password is set again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_scram: Option<String>,
}

impl User {
    /// The user's role.
    pub fn role(&self) -> Role {
        if self.role == Role::Investigator.name() { Role::Investigator } else { Role::Analyst }
    }
}

/// The users of a file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Users {
    /// In the order added.
    #[serde(default, rename = "user")]
    pub users: Vec<User>,
}

/// A role from its name.
pub fn parse_role(name: &str) -> Result<Role, ServeError> {
    match name {
        "analyst" => Ok(Role::Analyst),
        "investigator" => Ok(Role::Investigator),
        other => Err(ServeError::Users(format!("unknown role {other:?}: analyst or investigator"))),
    }
}

/// A user name: 1–64 letters, digits, `.`, `_` or `-`.
fn check_name(name: &str) -> Result<(), ServeError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok { Ok(()) } else { Err(ServeError::Users(format!("bad user name {name:?}: 1-64 letters, digits, . _ -"))) }
}

impl Users {
    /// Reads a users file; an absent file has no users.
    pub fn load(path: &Path) -> Result<Users, ServeError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Users::default()),
            Err(e) => return Err(ServeError::Io { path: path.to_owned(), source: e }),
        };
        let users: Users =
            toml::from_str(&text).map_err(|e| ServeError::Users(format!("{}: {}", path.display(), e.message())))?;
        for u in &users.users {
            check_name(&u.name).map_err(|e| ServeError::Users(format!("{}: {e}", path.display())))?;
            parse_role(&u.role).map_err(|e| ServeError::Users(format!("{}: user {}: {e}", path.display(), u.name)))?;
        }
        Ok(users)
    }

    /// Writes the file (mode 0600), replacing it atomically.
    pub fn save(&self, path: &Path) -> Result<(), ServeError> {
        let text = toml::to_string(self).map_err(|e| ServeError::Users(e.to_string()))?;
        let tmp = path.with_extension("toml.tmp");
        let io = |source| ServeError::Io { path: tmp.clone(), source };
        {
            let mut options = fs::OpenOptions::new();
            options.create(true).write(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&tmp).map_err(io)?;
            file.write_all(text.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        fs::rename(&tmp, path).map_err(|source| ServeError::Io { path: path.to_owned(), source })
    }

    /// Adds a user or replaces the password and role of one of that name.
    pub fn add(&mut self, name: &str, role: Role, password: &str) -> Result<(), ServeError> {
        check_name(name)?;
        if password.chars().count() < 8 {
            return Err(ServeError::Users("the password needs at least 8 characters".into()));
        }
        let hash = Argon2::default()
            .hash_password(password.as_bytes())
            .map_err(|e| ServeError::Users(format!("cannot hash the password: {e}")))?
            .to_string();
        let pg_scram = Some(scram_verifier(password));
        let user = User { name: name.to_owned(), role: role.name().to_owned(), password: hash, pg_scram };
        match self.users.iter_mut().find(|u| u.name == name) {
            Some(slot) => *slot = user,
            None => self.users.push(user),
        }
        Ok(())
    }

    /// Removes a user; whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.users.len();
        self.users.retain(|u| u.name != name);
        self.users.len() != before
    }

    /// The user whose name and password these are. A wrong name costs as much time as a wrong
    /// password, so timing does not tell which names exist.
    pub fn verify(&self, name: &str, password: &str) -> Option<&User> {
        let user = self.users.iter().find(|u| u.name == name);
        let hash = user.map(|u| u.password.as_str()).unwrap_or(DUMMY_HASH);
        let parsed = PasswordHash::new(hash).ok()?;
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        if ok { user } else { None }
    }
}

/// SCRAM iterations of the verifiers `hotline users add` stores (PostgreSQL's default).
pub const SCRAM_ITERATIONS: usize = 4096;

/// The SCRAM-SHA-256 verifier of a password as the users file keeps it:
/// `SCRAM-SHA-256$ITERATIONS:SALT$SALTED_PASSWORD` (hex).
pub fn scram_verifier(password: &str) -> String {
    let salt: [u8; 16] = rand::random();
    let salted = gen_salted_password(password, &salt, SCRAM_ITERATIONS);
    format!("SCRAM-SHA-256${SCRAM_ITERATIONS}:{}${}", hex::encode(salt), hex::encode(salted))
}

/// The salt and salted password of a verifier written by [`scram_verifier`].
pub fn parse_verifier(text: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let rest = text.strip_prefix("SCRAM-SHA-256$")?;
    let (iterations, rest) = rest.split_once(':')?;
    let (salt, salted) = rest.split_once('$')?;
    if iterations.parse::<usize>().ok()? != SCRAM_ITERATIONS {
        return None;
    }
    Some((hex::decode(salt).ok()?, hex::decode(salted).ok()?))
}

/// A hash of no one's password, verified against when the name is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5Uu6K9+0Df4hqzUqvIvyL0OCrsMB2oZi8z9Vw1yJyDA";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_signs_in_with_the_password_added_and_no_other() {
        let mut users = Users::default();
        users.add("wang.li", Role::Investigator, "correct horse").unwrap();
        users.add("zhao", Role::Analyst, "battery staple").unwrap();
        assert_eq!(users.verify("wang.li", "correct horse").map(User::role), Some(Role::Investigator));
        assert!(users.verify("wang.li", "battery staple").is_none());
        assert!(users.verify("nobody", "correct horse").is_none());
        assert!(users.users.iter().all(|u| u.password.starts_with("$argon2id$")));
        assert!(users.add("x y", Role::Analyst, "long enough").is_err());
        assert!(users.add("short", Role::Analyst, "1234567").is_err());
        assert!(users.remove("zhao") && !users.remove("zhao"));
    }

    #[test]
    fn the_scram_verifier_is_the_salted_password_of_its_salt_and_nothing_else_parses() {
        let verifier = scram_verifier("correct horse");
        assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
        let (salt, salted) = parse_verifier(&verifier).unwrap();
        assert_eq!(salt.len(), 16);
        assert_eq!(salted, gen_salted_password("correct horse", &salt, SCRAM_ITERATIONS));
        assert_ne!(salted, gen_salted_password("battery staple", &salt, SCRAM_ITERATIONS));
        assert_ne!(parse_verifier(&scram_verifier("correct horse")).unwrap().0, salt, "a new salt each time");
        for bad in ["", "md5abc", "SCRAM-SHA-256$1000:00$00", "SCRAM-SHA-256$4096:zz$00", "SCRAM-SHA-256$4096"] {
            assert!(parse_verifier(bad).is_none(), "{bad}");
        }
        let mut users = Users::default();
        users.add("li", Role::Analyst, "a long password").unwrap();
        assert!(users.users[0].pg_scram.as_deref().and_then(parse_verifier).is_some());
    }

    #[test]
    fn the_file_round_trips_and_a_bad_role_is_an_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("hotline-users-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.toml");
        let mut users = Users::default();
        users.add("li", Role::Analyst, "a long password").unwrap();
        users.save(&path).unwrap();
        assert_eq!(Users::load(&path).unwrap(), users);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        fs::write(&path, "[[user]]\nname = \"li\"\nrole = \"admin\"\npassword = \"x\"\n").unwrap();
        let error = Users::load(&path).unwrap_err().to_string();
        assert!(error.contains("users.toml") && error.contains("admin"), "{error}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
