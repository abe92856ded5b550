//! `micro auth rules list|grant|deny|revoke`: the JSON rules file services load with
//! `--auth-rules` (go-micro's `Rule` fields), edited in place and replaced atomically.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use micro::auth::{Access, MemoryRules, Resource, Rule, Rules};

use crate::Output;
use crate::output::table;

/// `micro auth rules`.
#[derive(Args, Debug, Clone)]
pub struct RulesArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RulesCommand,
    /// The rules file, as services take it with `--auth-rules` (created by the first grant or
    /// deny).
    #[arg(long, global = true, env = "MICRO_AUTH_RULES", value_name = "FILE")]
    pub rules_file: Option<PathBuf>,
}

/// `micro auth rules` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum RulesCommand {
    /// Print the rules, highest priority first.
    List,
    /// Let accounts with `--scope` call `--service`'s `--endpoint` (replaces a rule with the
    /// same id).
    Grant(RuleArgs),
    /// Refuse calls to `--service`'s `--endpoint` from accounts with `--scope` (replaces a rule
    /// with the same id).
    Deny(RuleArgs),
    /// Remove the rule with this id.
    Revoke(RevokeArgs),
}

/// `micro auth rules grant|deny`.
#[derive(Args, Debug, Clone)]
pub struct RuleArgs {
    /// The rule's id, to replace or revoke it later.
    pub id: String,
    /// Who it applies to: accounts holding this scope; `*` any account; `''` everyone, even
    /// without a token.
    #[arg(long)]
    pub scope: String,
    /// The service's name (`*`: every service).
    #[arg(long, default_value = "*")]
    pub service: String,
    /// The endpoint, `Handler.Method` (`Handler.*`, `*`: all of them).
    #[arg(long, default_value = "*")]
    pub endpoint: String,
    /// Of the rules matching a call, the highest priority decides.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub priority: i32,
}

/// `micro auth rules revoke`.
#[derive(Args, Debug, Clone)]
pub struct RevokeArgs {
    /// The rule's id.
    pub id: String,
}

/// Runs a `micro auth rules` subcommand.
pub(super) fn run(output: Output, args: &RulesArgs) -> anyhow::Result<()> {
    let Some(path) = &args.rules_file else {
        anyhow::bail!(
            "pass the rules file services load: --rules-file FILE (or MICRO_AUTH_RULES), the \
             file given to them as --auth-rules"
        );
    };
    match &args.command {
        RulesCommand::List => {
            let mut rules = load(path)?;
            rules.sort_by_key(|rule| std::cmp::Reverse(rule.priority));
            output.print(&rules_table(&rules), &serde_json::to_value(&rules)?);
            Ok(())
        }
        RulesCommand::Grant(rule) => add(output, path, rule, Access::Grant),
        RulesCommand::Deny(rule) => add(output, path, rule, Access::Deny),
        RulesCommand::Revoke(revoke) => {
            let mut rules = load(path)?;
            let before = rules.len();
            rules.retain(|rule| rule.id != revoke.id);
            if rules.len() == before {
                anyhow::bail!(
                    "no rule {:?} in {}; `micro auth rules list` shows them",
                    revoke.id,
                    path.display()
                );
            }
            save(path, &rules)?;
            changed(output, path, &format!("revoked {}", revoke.id), &revoke.id)
        }
    }
}

/// Adds the rule (replacing one with its id, in place), creating the file if needed.
fn add(output: Output, path: &Path, args: &RuleArgs, access: Access) -> anyhow::Result<()> {
    let mut rules = if path.exists() {
        load(path)?
    } else {
        Vec::new()
    };
    let rule = Rule {
        id: args.id.clone(),
        scope: args.scope.clone(),
        resource: Resource::service(&args.service, &args.endpoint),
        access,
        priority: args.priority,
    };
    match rules.iter_mut().find(|existing| existing.id == rule.id) {
        Some(existing) => *existing = rule,
        None => rules.push(rule),
    }
    save(path, &rules)?;
    let verb = match access {
        Access::Grant => "granted",
        Access::Deny => "denied",
    };
    changed(output, path, &format!("{verb} {}", args.id), &args.id)
}

fn changed(output: Output, path: &Path, what: &str, id: &str) -> anyhow::Result<()> {
    let human = format!(
        "{what} in {}\n(services read it when they start: restart them to apply it)\n",
        path.display()
    );
    let json = serde_json::json!({ "id": id, "file": path, "changed": what });
    output.print(&human, &json);
    Ok(())
}

/// The rules in the file, read exactly as services read it.
fn load(path: &Path) -> anyhow::Result<Vec<Rule>> {
    let rules = MemoryRules::from_file(path).map_err(|err| {
        anyhow::anyhow!(
            "{err}\n(grant or deny a rule to create the file; services take it as --auth-rules)"
        )
    })?;
    Ok(rules.list())
}

/// Writes the rules to a temporary file beside `path`, then renames it over `path`: services
/// starting meanwhile read the old rules or the new, never half of them.
fn save(path: &Path, rules: &[Rule]) -> anyhow::Result<()> {
    use std::io::Write as _;

    let text = serde_json::to_string_pretty(rules)? + "\n";
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rules.json".to_owned());
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    let temporary = dir
        .unwrap_or(Path::new("."))
        .join(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write()
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temporary);
        })
        .with_context(|| format!("cannot write the rules file {}", path.display()))
}

fn rules_table(rules: &[Rule]) -> String {
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|rule| {
            let scope = match rule.scope.as_str() {
                "" => "'' (public)".to_owned(),
                "*" => "* (any account)".to_owned(),
                scope => scope.to_owned(),
            };
            let access = match rule.access {
                Access::Grant => "grant",
                Access::Deny => "deny",
            };
            vec![
                rule.id.clone(),
                access.to_owned(),
                scope,
                rule.resource.name.clone(),
                rule.resource.endpoint.clone(),
                rule.priority.to_string(),
            ]
        })
        .collect();
    table(
        &["ID", "ACCESS", "SCOPE", "SERVICE", "ENDPOINT", "PRIORITY"],
        &rows,
    )
}
