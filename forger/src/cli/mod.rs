//! The command line every image program gets (`forger::run(image())`) and that the `forger`
//! binary offers on KDL specs: `build`, `validate`, `inspect`, `targets`, `plan`, with global
//! `--output pretty|json|quiet`. This is the only code that renders.

mod args;
mod inspect;
mod report;

use std::path::Path;

use clap::Parser;
use serde_json::json;

pub use args::{Cli, Command, OutputMode};
pub use report::Reporter;

use crate::build::{self, BuildOptions};
use crate::cache::Cache;
use crate::model::Image;
use crate::plan::PlanOptions;

/// Runs the CLI for an image defined in Rust. Errors are rendered (miette) before this
/// returns them; the process exits non-zero.
pub fn run(image: Image) -> crate::Result<()> {
    run_cli(Cli::parse(), |source| match &source.spec {
        Some(spec) => Err(build::Error::SpecNotAccepted { spec: spec.clone() }.into()),
        None => Ok(image.clone()),
    })
}

/// Runs the CLI where `--spec FILE` names the image, read by `load` (the `forger` binary
/// passes the KDL importer).
pub fn run_spec(load: impl Fn(&Path) -> crate::Result<Image>) -> crate::Result<()> {
    run_cli(Cli::parse(), |source| match &source.spec {
        Some(spec) => load(spec),
        None => Err(build::Error::SpecMissing.into()),
    })
}

/// Runs parsed arguments; `image` resolves the subcommand's image source.
pub fn run_cli(
    cli: Cli,
    image: impl Fn(&args::Source) -> crate::Result<Image>,
) -> crate::Result<()> {
    let mut reporter = Reporter::new(cli.output);
    let result = match cli.command.source() {
        Some(source) => image(source).and_then(|img| dispatch(&cli.command, &img, &mut reporter)),
        None => standalone(&cli.command, &mut reporter),
    };
    if let Err(e) = &result {
        reporter.error(e);
    }
    result
}

fn dispatch(command: &Command, image: &Image, reporter: &mut Reporter) -> crate::Result<()> {
    let plan_options =
        |profiles: &args::Profiles, targets: &[String], apt: &args::AptArgs| PlanOptions {
            profiles: profiles.profiles.clone(),
            targets: targets.to_vec(),
            epoch: build::source_date_epoch(),
            payload_fingerprint: None,
            apt_override: apt.to_override(),
        };
    match command {
        Command::Build {
            profiles,
            targets,
            out,
            skip_push,
            output_name,
            rootfs,
            ips_client,
            apt,
            cache,
            registry,
            ..
        } => {
            let options = BuildOptions {
                plan: plan_options(profiles, targets, apt),
                out_dir: out.clone(),
                skip_push: *skip_push,
                output_name: output_name.clone(),
                rootfs: rootfs.clone(),
                cache: (!cache.no_cache).then(|| {
                    let local =
                        Cache::new(cache.cache_dir.clone().unwrap_or_else(Cache::default_dir));
                    if cache.cache_to.is_none() && cache.cache_from.is_none() {
                        return local;
                    }
                    local.with_registry(crate::cache::Registry {
                        pull_from: cache.cache_from.clone(),
                        push_to: cache.cache_to.clone(),
                        options: push_options(registry),
                    })
                }),
                push: push_options(registry),
                ips_client: *ips_client,
            };
            let report = build::build(image, &options, reporter)?;
            reporter.result(
                &format!(
                    "built {} output(s) in {}",
                    report.outputs.len(),
                    out.display()
                ),
                json!(report),
            );
        }
        Command::Validate { profiles, apt, .. } => {
            build::check(image, &plan_options(profiles, &[], apt))?;
            reporter.result(
                &format!("{}: valid", image.metadata.name),
                json!({"valid": true}),
            );
        }
        Command::Inspect {
            profiles,
            json,
            apt,
            ..
        } => {
            let plan = crate::plan::Plan::inspect(image, &plan_options(profiles, &[], apt))?;
            if *json {
                report::stdout_line(serde_json::to_string_pretty(&plan).expect("plans serialise"));
            } else {
                reporter.result(&inspect::render(&plan), json!(plan));
            }
        }
        Command::Targets { .. } => {
            let lines: Vec<String> = image.targets.iter().map(inspect::target_line).collect();
            reporter.result(&lines.join("\n"), json!(image.targets));
        }
        Command::Plan {
            profiles,
            targets,
            apt,
            ..
        } => {
            let plan = build::check(image, &plan_options(profiles, targets, apt))?;
            report::stdout_line(serde_json::to_string_pretty(&plan).expect("plans serialise"));
        }
        Command::Cache { .. } | Command::Push { .. } => return standalone(command, reporter),
    }
    Ok(())
}

fn push_options(r: &args::RegistryArgs) -> crate::oci::PushOptions {
    let mut o = crate::oci::PushOptions {
        auth_file: r.auth_file.clone(),
        insecure_registries: r.insecure_registries.clone(),
        ..Default::default()
    };
    if let Some(size) = r.chunk_size {
        o.chunk_size = size.as_bytes().max(1) as usize;
    }
    o
}

/// Commands that need no image: `push` and `cache`.
fn standalone(command: &Command, reporter: &mut Reporter) -> crate::Result<()> {
    if let Command::Push {
        image,
        reference,
        artifact,
        name,
        version,
        os,
        architecture,
        description,
        registry,
    } = command
    {
        let options = push_options(registry);
        let report = if *artifact {
            let file_name = image
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let kind = if file_name.ends_with(".qcow2") {
                crate::oci::ArtifactKind::Qcow2
            } else {
                crate::oci::ArtifactKind::Tarball
            };
            let meta = crate::oci::ArtifactMeta {
                name: name
                    .clone()
                    .unwrap_or_else(|| file_name.split('.').next().unwrap_or("image").to_owned()),
                version: version.clone(),
                architecture: architecture.clone(),
                os: os.clone(),
                description: description.clone(),
                kind,
            };
            crate::oci::push_artifact(image, reference, &meta, &options)?
        } else {
            crate::oci::push_layout(image, reference, &options)?
        };
        reporter.result(
            &format!("pushed {} ({})", report.reference, report.manifest),
            json!({"reference": report.reference, "manifest": report.manifest.to_string()}),
        );
        return Ok(());
    }
    let Command::Cache { cache_dir, command } = command else {
        return Ok(());
    };
    let cache = Cache::new(cache_dir.clone().unwrap_or_else(Cache::default_dir));
    match command {
        args::CacheCommand::Ls => {
            let entries = cache.list()?;
            let lines: Vec<String> = entries
                .iter()
                .map(|e| format!("{:<6} {} {:>12} bytes", e.kind, e.hash, e.size))
                .collect();
            reporter.result(&lines.join("\n"), json!(entries));
        }
        args::CacheCommand::Prune { max_size } => {
            let evicted = cache.prune(max_size.as_bytes())?;
            reporter.result(
                &format!("evicted {} entries", evicted.len()),
                json!(evicted),
            );
        }
    }
    Ok(())
}
