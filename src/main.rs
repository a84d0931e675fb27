//! The `shuangsui` command line. Exit codes: 0 success (or verified),
//! 1 verification failed or the check found problems in the data, 2 usage or
//! input error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use shuangsui::clock::{Clock, OfficeClock, SystemClock, Zone};
use shuangsui::commands::{self, CommandError};
use shuangsui::desk::checkpoint;
use shuangsui::generate::{generate, GenOptions};
use shuangsui::ids::{CertNo, CreditCode};
use shuangsui::pools::{write_templates, write_workbook, Encoding, LoadOptions};
use shuangsui::seed::SeedSource;
use shuangsui::service::config::Config;
use shuangsui::substitution::{Reason, Request};
use shuangsui::tlog::Verifier;

/// mimalloc keeps the pages of freed blocks for the next allocation, where
/// the system allocator hands large blocks back to the kernel and faults
/// them in again: loading a pool allocates and frees many large blocks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "shuangsui",
    version,
    about = "双随机、一公开: verifiable random inspection draws"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a synthetic, reproducible 一单两库 (five CSV files) into a folder.
    GenData {
        #[arg(long)]
        out: PathBuf,
        /// Also write the pools as one .xlsx workbook (a sheet per file).
        #[arg(long)]
        xlsx: Option<PathBuf>,
        #[arg(long, default_value_t = GenOptions::default().seed)]
        seed: u64,
        #[arg(long, default_value_t = GenOptions::default().targets)]
        targets: usize,
        #[arg(long, default_value_t = GenOptions::default().inspectors)]
        inspectors: usize,
        #[arg(long, default_value_t = GenOptions::default().items)]
        items: usize,
        #[arg(long, default_value_t = GenOptions::default().conflicts)]
        conflicts: usize,
    },
    /// Write the import templates: pools-template.xlsx and the five CSV headers.
    Templates {
        #[arg(long, default_value = "data/templates")]
        out: PathBuf,
    },
    /// Validate a pool folder (or .xlsx workbook) and print a summary.
    Check {
        /// A folder of the five CSV files, or a .xlsx workbook.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// utf-8, gbk or detect.
        #[arg(long, default_value = "detect")]
        encoding: Encoding,
        /// Report certificates expired on this date (default: today, Asia/Shanghai).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// Draw a plan and write its audit bundle.
    Draw {
        #[arg(long)]
        plan: PathBuf,
        /// 64 hex characters, ceremony:DIGITS (dice or lottery digits), or random.
        #[arg(long)]
        seed: String,
        /// A folder of the five CSV files, or a .xlsx workbook.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        #[arg(long, default_value = "bundles")]
        out: PathBuf,
        /// Earlier bundles whose inspections count for exclusion and rotation.
        #[arg(long)]
        history: Vec<PathBuf>,
        /// Bundles of the earlier plans of the same period named in the
        /// plan's merge_with, whose visits this plan joins.
        #[arg(long)]
        merge: Vec<PathBuf>,
        #[arg(long, default_value = "detect")]
        encoding: Encoding,
    },
    /// Draw a substitute for an officer who cannot inspect a drawn target, and
    /// add it to the bundle's substitutions.json (spec §12).
    Substitute {
        bundle: PathBuf,
        /// The drawn target's credit code.
        #[arg(long)]
        target: String,
        /// The certificate number of the officer who leaves the visit.
        #[arg(long)]
        officer: String,
        /// leave, transfer, conflict or other.
        #[arg(long)]
        reason: String,
        /// Confidential note (kept out of the public copy).
        #[arg(long, default_value = "")]
        note: String,
        /// For a conflict: the declared relation (confidential).
        #[arg(long, default_value = "")]
        relation: String,
        /// The pool folder the draw was made on.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        #[arg(long, default_value = "detect")]
        encoding: Encoding,
    },
    /// Run the service: scheduled draws, the ledger, the public pages and the API.
    Serve {
        #[arg(long, default_value = "config/shuangsui.toml")]
        config: PathBuf,
        /// Overrides the configured address, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Overrides the folder for the database, snapshots and publications.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Check the service's ledger chain and every bundle it records.
    Ledger {
        #[command(subcommand)]
        action: LedgerAction,
    },
    /// Tell where businesses stood in a draw, by their credit codes: drawn,
    /// in the plan's scope and not drawn, or out of it and why. Needs the
    /// confidential bundle and the pool files it was drawn on.
    Standing {
        bundle: PathBuf,
        /// A folder of the five CSV files, or a .xlsx workbook.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        #[arg(long, default_value = "detect")]
        encoding: Encoding,
        /// 统一社会信用代码, in any case.
        #[arg(required = true)]
        codes: Vec<String>,
    },
    /// Redo a draw from its bundle and the pool files and compare.
    Verify {
        bundle: PathBuf,
        /// A folder of the five CSV files, or a .xlsx workbook.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        #[arg(long, default_value = "detect")]
        encoding: Encoding,
    },
}

#[derive(Subcommand)]
enum LedgerAction {
    /// Recompute the chain and re-verify every recorded draw; with
    /// --checkpoint, also prove the ledger extends a checkpoint saved earlier.
    Verify {
        #[arg(long, default_value = "config/shuangsui.toml")]
        config: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// A signed checkpoint saved earlier (from `ledger checkpoint` or
        /// GET /api/v1/ledger/checkpoint).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The verifier key the checkpoint must be signed under,
        /// NAME+HASH+BASE64 (default: the public half of the configured key).
        #[arg(long, requires = "checkpoint")]
        key: Option<String>,
    },
    /// Print the ledger's current checkpoint as a signed note, for an
    /// auditor to keep.
    Checkpoint {
        #[arg(long, default_value = "config/shuangsui.toml")]
        config: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// The service configuration, with command-line overrides applied.
fn service_config(path: &std::path::Path, listen: Option<String>, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
    let env = |name: &str| std::env::var(name).ok();
    let mut config = Config::load(path, env).with_context(|| format!("reading {}", path.display()))?;
    if let Some(listen) = listen {
        config.listen = listen
            .parse()
            .with_context(|| format!("--listen {listen:?} is not HOST:PORT"))?;
    }
    if let Some(dir) = data_dir {
        config = config.with_data_dir(dir, env("SHUANGSUI_DATABASE_URL").is_some());
    }
    Ok(config)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The binary is where the wall clock is chosen; the library only reads the
/// clock it is given. The commands that read no configuration keep the
/// office's time in the default zone.
fn system_clock() -> std::sync::Arc<dyn Clock> {
    std::sync::Arc::new(SystemClock)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let office = OfficeClock::new(system_clock(), Zone::default());
    match cli.command {
        Command::GenData {
            out,
            xlsx,
            seed,
            targets,
            inspectors,
            items,
            conflicts,
        } => {
            let options = GenOptions {
                seed,
                items,
                inspectors,
                targets,
                conflicts,
            };
            let summary = generate(&options, &out).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "wrote {}: {} departments, {} items, {} inspectors, {} targets, {} conflicts",
                out.display(),
                summary.departments,
                summary.items,
                summary.inspectors,
                summary.targets,
                summary.conflicts
            );
            if let Some(xlsx) = xlsx {
                write_workbook(&out, &xlsx, Encoding::Utf8).with_context(|| format!("writing {}", xlsx.display()))?;
                eprintln!("wrote {}", xlsx.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Templates { out } => {
            write_templates(&out).with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote the import templates into {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { data, encoding, as_of } => {
            let pools = match commands::load_pools(
                &data,
                LoadOptions {
                    encoding,
                    ..LoadOptions::default()
                },
            ) {
                Ok(pools) => pools,
                Err(CommandError::Pools { problems, .. }) => {
                    eprint!("{problems}");
                    eprintln!("{}: {} problems; nothing loaded", data.display(), problems.total);
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            };
            let as_of = as_of.unwrap_or_else(|| office.today());
            let expired = pools.expired_certificates(as_of);
            println!("{pools}");
            if !expired.is_empty() {
                eprint!("{expired}");
                eprintln!(
                    "{}: {} certificates expired as of {as_of}",
                    data.display(),
                    expired.total
                );
                return Ok(ExitCode::from(1));
            }
            println!("\nok: {} is clean", data.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Draw {
            plan,
            seed,
            data,
            out,
            history,
            merge,
            encoding,
        } => {
            let seed = shuangsui::entropy::parse_seed(&seed).context("--seed")?;
            let earlier = commands::Earlier {
                history: &history,
                merge: &merge,
            };
            let drawn = commands::draw_bundle(
                &data,
                &plan,
                &seed,
                earlier,
                &out,
                &office.stamp(),
                LoadOptions {
                    encoding,
                    ..LoadOptions::default()
                },
            )?;
            let m = &drawn.manifest;
            if seed.source == SeedSource::Random {
                eprintln!(
                    "seed drawn from operating-system entropy: {} (recorded in the bundle)",
                    m.seed.hex
                );
            }
            eprintln!(
                "drew {} visits ({} item checks, {} officers); result {}",
                m.counts.visits, m.counts.item_checks, m.counts.officers, m.result_sha256
            );
            println!("{}", drawn.path.display());
            // The bundle is on disk and synced and stdout is flushed at exit:
            // nothing of the draw needs freeing before the process ends.
            std::mem::forget(drawn);
            Ok(ExitCode::SUCCESS)
        }
        Command::Substitute {
            bundle,
            target,
            officer,
            reason,
            note,
            relation,
            data,
            encoding,
        } => {
            let request = Request {
                credit_code: CreditCode::parse(&target).context("--target")?,
                out: CertNo::parse(&officer).context("--officer")?,
                reason: Reason::parse(&reason)
                    .with_context(|| format!("--reason {reason:?}: give leave, transfer, conflict or other"))?,
                note,
                relation,
            };
            let decided_at = office.stamp();
            let entry = commands::substitute_in_bundle(
                &bundle,
                &data,
                &request,
                &decided_at,
                LoadOptions {
                    encoding,
                    ..LoadOptions::default()
                },
            )?;
            println!(
                "substitution {}: {} replaces {} on the visit to {} ({})",
                entry.seq,
                entry.incoming,
                entry.out,
                entry.credit_code,
                entry.reason.label()
            );
            if entry.reason == Reason::Conflict {
                eprintln!(
                    "add {},{} to conflicts.csv so that later draws exclude the pair",
                    entry.out, entry.credit_code
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            config,
            listen,
            data_dir,
        } => {
            init_logging();
            let config = service_config(&config, listen, data_dir)?;
            tokio::runtime::Runtime::new()?.block_on(shuangsui::service::serve(config, system_clock()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ledger {
            action:
                LedgerAction::Verify {
                    config,
                    data_dir,
                    checkpoint,
                    key,
                },
        } => {
            let config = service_config(&config, None, data_dir)?;
            let saved = match &checkpoint {
                Some(path) => {
                    let note = std::fs::read_to_string(path)
                        .with_context(|| format!("--checkpoint: reading {}", path.display()))?;
                    let verifier = match &key {
                        Some(text) => Verifier::parse(text.trim()).context("--key")?,
                        None => {
                            checkpoint::read_key_for(&config.checkpoint_key_path(), config.ledger_origin.as_deref())
                                .context("the configured checkpoint key (or give the verifier key with --key)")?
                                .verifier()
                                .clone()
                        }
                    };
                    Some((note, verifier))
                }
                None => None,
            };
            let (report, extends) = tokio::runtime::Runtime::new()?.block_on(async {
                // Never creates a ledger: a wrong folder is an error, not a clean record.
                let desk = shuangsui::service::existing_desk(&config, system_clock()).await?;
                let report = shuangsui::desk::audit::audit(&desk).await?;
                let extends = match &saved {
                    Some((note, verifier)) => Some(checkpoint::ledger_extends(&desk.ledger, note, verifier).await),
                    None => None,
                };
                anyhow::Ok((report, extends))
            })?;
            println!("ledger head: entry {} {}", report.head.seq, report.head.hash);
            println!("draws checked: {}", report.draws_checked);
            for problem in &report.problems {
                println!("PROBLEM: {problem}");
            }
            let extended = match extends {
                None => true,
                Some(Ok(extends)) => {
                    println!(
                        "checkpoint verified: the ledger extends {} at {} entries (root {}) and now holds {}",
                        extends.checkpoint.origin,
                        extends.checkpoint.size,
                        checkpoint::base64(&extends.checkpoint.root),
                        extends.size
                    );
                    true
                }
                Some(Err(e)) => {
                    println!("PROBLEM: checkpoint: {e}");
                    false
                }
            };
            if report.clean() && extended {
                println!("ledger verified");
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(1))
            }
        }
        Command::Ledger {
            action: LedgerAction::Checkpoint { config, data_dir },
        } => {
            let config = service_config(&config, None, data_dir)?;
            let signer = checkpoint::read_key_for(&config.checkpoint_key_path(), config.ledger_origin.as_deref())?;
            let signed = tokio::runtime::Runtime::new()?.block_on(async {
                let desk = shuangsui::service::existing_desk(&config, system_clock()).await?;
                anyhow::Ok(checkpoint::sign_ledger(&desk.ledger, &signer).await?)
            })?;
            print!("{}", signed.note);
            Ok(ExitCode::SUCCESS)
        }
        Command::Standing {
            bundle,
            data,
            encoding,
            codes,
        } => {
            let codes = codes
                .iter()
                .map(|code| CreditCode::parse_typed(code).with_context(|| format!("not a 统一社会信用代码: {code}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let options = LoadOptions {
                encoding,
                ..LoadOptions::default()
            };
            let standings = commands::standings(&bundle, &data, &codes, options)?;
            for (code, standing) in codes.iter().zip(standings) {
                let (zh, en) = standing.words();
                println!("{code}\t{}\t{zh} ({en})", standing.code());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { bundle, data, encoding } => {
            let report = shuangsui::verify::verify(
                &bundle,
                &data,
                LoadOptions {
                    encoding,
                    ..LoadOptions::default()
                },
            )?;
            for passed in &report.passed {
                println!("ok  {passed}");
            }
            for skipped in &report.not_checked {
                println!("--  {skipped}");
            }
            match &report.difference {
                None if report.partially_verified() => {
                    println!(
                        "partially verified: everything else is reproduced exactly; NOT checked: {}",
                        report.not_checked.join("; ")
                    );
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    println!("verified: {} is reproduced exactly", bundle.display());
                    Ok(ExitCode::SUCCESS)
                }
                Some(difference) => {
                    println!("NOT VERIFIED: {difference}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// Logs to standard error; `RUST_LOG` filters (default: info).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}
