//! `hotline serve` and `hotline users …`: argument parsing, the password prompt, and start-up lines.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::serve::pg::{PgConfig, PgServer, bind_pg};
use crate::serve::users::{Users, default_users_file, parse_role};
use crate::serve::{App, ServeConfig, bind, runtime};

/// `hotline serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
    /// Address of the web explorer (loopback by default; port 0 picks a free port). Without it the
    /// explorer listens on 127.0.0.1:8080, unless --pg is given, which then serves alone.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Also (or only) serve SQL over the PostgreSQL wire protocol on this address, e.g.
    /// 127.0.0.1:5433, for psql, DBeaver, Superset, Metabase or pandas.
    #[arg(long)]
    pg: Option<SocketAddr>,
    /// PostgreSQL endpoint: refuse connections that do not negotiate TLS (needs --tls-cert).
    #[arg(long, requires = "tls_cert")]
    require_tls: bool,
    /// PostgreSQL endpoint: connections served at once (more are refused with SQLSTATE 53300).
    #[arg(long, default_value_t = crate::serve::pg::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// PostgreSQL endpoint: statements run at once (default: the number of cores); more wait.
    #[arg(long)]
    max_running: Option<usize>,
    /// PostgreSQL endpoint: longest a statement may run, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Users file (default: users.toml in the warehouse folder).
    #[arg(long)]
    users: Option<PathBuf>,
    /// Minutes a sign-in lasts.
    #[arg(long, default_value_t = 480)]
    session_minutes: u64,
    /// PEM certificate chain: the explorer serves HTTPS only, the PostgreSQL endpoint offers TLS
    /// (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
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

/// Runs `hotline serve` until Ctrl-C: the explorer, the PostgreSQL endpoint, or both in one process.
pub fn run_serve(args: ServeArgs) -> Result<ExitCode> {
    let users_file = args.users.clone().unwrap_or_else(|| default_users_file(&args.warehouse));
    let listen = match (args.listen, args.pg) {
        (Some(listen), _) => Some(listen),
        (None, Some(_)) => None,
        (None, None) => Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
    };
    let tls = args.tls_cert.clone().zip(args.tls_key.clone());
    eprintln!("loading {} …", args.warehouse.display());
    let app = match listen {
        Some(listen) => {
            let mut config = ServeConfig::new(&args.warehouse);
            config.listen = listen;
            config.users = users_file.clone();
            config.session_ttl = std::time::Duration::from_secs(args.session_minutes.max(1) * 60);
            config.tls = tls.clone();
            let app = App::open(config).with_context(|| format!("cannot serve {}", args.warehouse.display()))?;
            Some(Arc::new(app))
        }
        None => None,
    };
    let pg = match args.pg {
        Some(address) => {
            let mut config = PgConfig::new(&args.warehouse);
            config.listen = address;
            config.tls = tls;
            config.require_tls = args.require_tls;
            config.max_connections = args.max_connections;
            if let Some(n) = args.max_running {
                config.max_running = n.max(1);
            }
            config.query_timeout = std::time::Duration::from_secs(args.timeout.max(1));
            let users = Users::load(&users_file)?;
            if users.users.iter().any(|u| u.pg_scram.is_none()) {
                eprintln!(
                    "note: users added before the PostgreSQL endpoint existed sign in there only after their password \
                     is set again (`hotline users add NAME --role ROLE`)"
                );
            }
            let server = PgServer::open(config, users)
                .with_context(|| format!("cannot serve {} over PostgreSQL", args.warehouse.display()))?;
            Some(Arc::new(server))
        }
        None => None,
    };
    let no_users = Users::load(&users_file)?.users.is_empty();
    if no_users {
        eprintln!(
            "warning: {} has no users; add one with `hotline users add NAME --role investigator --warehouse {}`",
            users_file.display(),
            args.warehouse.display()
        );
    }
    let rt = runtime().context("cannot start the server's runtime")?;
    rt.block_on(async move {
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(app) = app {
            let bound = bind(app).await?;
            println!("hotline explorer on {}://{}/ (Ctrl-C stops it)", bound.scheme, bound.address);
            tasks.spawn(async move { bound.serve(async { tokio::signal::ctrl_c().await.unwrap_or(()) }).await });
        }
        if let Some(server) = pg {
            let bound = bind_pg(server).await?;
            println!(
                "hotline SQL over PostgreSQL on {} (psql \"host={} port={} user=NAME dbname=hotline\"; Ctrl-C stops it)",
                bound.address,
                bound.address.ip(),
                bound.address.port()
            );
            tasks.spawn(async move { bound.serve(async { tokio::signal::ctrl_c().await.unwrap_or(()) }).await });
        }
        while let Some(done) = tasks.join_next().await {
            done.context("a server task failed")??;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
