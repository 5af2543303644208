//! `hotline serve` and `hotline users …`: argument parsing, the password prompt, and start-up lines.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::serve::users::{Users, default_users_file, parse_role};
use crate::serve::{App, ServeConfig, bind, runtime};

/// `hotline serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Users file (default: users.toml in the warehouse folder).
    #[arg(long)]
    users: Option<PathBuf>,
    /// Minutes a sign-in lasts.
    #[arg(long, default_value_t = 480)]
    session_minutes: u64,
}

/// `hotline users …`.
#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
    /// Warehouse folder (its users.toml is the default users file).
    #[arg(long, global = true, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
    /// Users file.
    #[arg(long, global = true)]
    users: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user (or set a user's password and role): prompts on a terminal, else reads one line.
    Add {
        /// Sign-in name.
        name: String,
        /// analyst or investigator.
        #[arg(long, default_value = "analyst")]
        role: String,
    },
    /// List users and roles.
    List,
    /// Remove a user.
    Remove {
        /// Sign-in name.
        name: String,
    },
}

fn read_password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").context("cannot read the password")?;
        let again = rpassword::prompt_password("again: ").context("cannot read the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Adds the user `demo` (investigator) with a new random password to a demo warehouse's users
/// file; returns the name and password to print.
pub fn add_demo_user(warehouse: &std::path::Path) -> Result<(String, String)> {
    let path = default_users_file(warehouse);
    let mut users = Users::load(&path)?;
    let password = crate::serve::auth::token()[..16].to_owned();
    users.add("demo", crate::sql::Role::Investigator, &password)?;
    users.save(&path)?;
    Ok(("demo".to_owned(), password))
}

/// Runs `hotline users …`.
pub fn run_users(args: UsersArgs) -> Result<ExitCode> {
    let path = args.users.unwrap_or_else(|| default_users_file(&args.warehouse));
    let mut users = Users::load(&path)?;
    let mut out = std::io::stdout().lock();
    match args.command {
        UsersCommand::Add { name, role } => {
            let role = parse_role(&role)?;
            let password = read_password()?;
            users.add(&name, role, &password)?;
            users.save(&path)?;
            writeln!(out, "user {name} ({}) saved in {}", role.name(), path.display())?;
        }
        UsersCommand::List => {
            for u in &users.users {
                writeln!(out, "{}\t{}", u.name, u.role)?;
            }
        }
        UsersCommand::Remove { name } => {
            if !users.remove(&name) {
                bail!("no user {name:?} in {}", path.display());
            }
            users.save(&path)?;
            writeln!(out, "user {name} removed from {}", path.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `hotline serve` until Ctrl-C.
pub fn run_serve(args: ServeArgs) -> Result<ExitCode> {
    let mut config = ServeConfig::new(&args.warehouse);
    config.listen = args.listen;
    if let Some(users) = args.users {
        config.users = users;
    }
    config.session_ttl = std::time::Duration::from_secs(args.session_minutes.max(1) * 60);
    eprintln!("loading {} …", args.warehouse.display());
    let app = App::open(config).with_context(|| format!("cannot serve {}", args.warehouse.display()))?;
    if app.users.users.is_empty() {
        eprintln!(
            "warning: {} has no users; add one with `hotline users add NAME --role investigator --warehouse {}`",
            app.config.users.display(),
            args.warehouse.display()
        );
    }
    let app = Arc::new(app);
    let rt = runtime().context("cannot start the server's runtime")?;
    rt.block_on(async move {
        let bound = bind(app).await?;
        println!("hotline explorer on http://{}/ (Ctrl-C stops it)", bound.address);
        bound.serve(async { tokio::signal::ctrl_c().await.unwrap_or(()) }).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
