//! The build pipeline: validate → plan → payload into a staging tree → users and overlays →
//! each target's output, written under a temporary name and renamed when complete. Nothing is
//! written to the output directory before validation and planning succeed.

mod error;
mod events;
mod outputs;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use error::Error;
pub use events::{Events, NoEvents};

use crate::cache::{Cache, Lookup};
use crate::model::{Image, Target};
use crate::payload::Payload;
use crate::plan::{Plan, PlanOptions};
use crate::stage::{StagingTree, Warning};

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Profiles, targets and epoch.
    pub plan: PlanOptions,
    /// Output directory (created when missing).
    pub out_dir: PathBuf,
    /// Do not push targets that have `push-to`.
    pub skip_push: bool,
    /// New file name (without extension) for the one selected target's output.
    pub output_name: Option<String>,
    /// A directory or tarball used as the payload instead of installing packages.
    pub rootfs: Option<PathBuf>,
    /// The stage cache; `None` builds everything (`--no-cache`).
    pub cache: Option<Cache>,
    /// Registry options for targets with `push-to` (auth file, insecure hosts, chunk size).
    pub push: crate::oci::PushOptions,
    /// Which IPS client installs IPS packages.
    pub ips_client: crate::payload::ips::IpsClient,
}

/// One finished output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Output {
    /// Target name.
    pub target: String,
    /// Target kind keyword.
    pub kind: &'static str,
    /// Where it was written.
    pub path: PathBuf,
    /// The reference it was pushed to, with the manifest digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<String>,
}

/// What a build produced.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BuildReport {
    /// Outputs in target order.
    pub outputs: Vec<Output>,
}

/// `SOURCE_DATE_EPOCH` from the environment, 0 when unset or not a number.
pub fn source_date_epoch() -> i64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Checks `image` and plans it: every problem of the model, then of the plan.
pub fn check(image: &Image, options: &PlanOptions) -> crate::Result<Plan> {
    image.validate()?;
    Ok(Plan::new(image, options)?)
}

/// Builds `image`.
pub fn build(
    image: &Image,
    options: &BuildOptions,
    events: &mut dyn Events,
) -> crate::Result<BuildReport> {
    let plan = check(image, &options.plan)?;
    let (plan, payloads) = match &options.rootfs {
        Some(path) => (plan.without_layers(), vec![Payload::rootfs(path)?]),
        None => {
            let payloads =
                outputs::package_payloads(&plan, options.cache.as_ref(), options.ips_client)?;
            (plan, payloads)
        }
    };
    let (plan, cache) = keyed_plan(plan, &payloads[0], options, events)?;
    if options.output_name.is_some() && plan.targets.len() != 1 {
        return Err(Error::OutputNameAmbiguous {
            count: plan.targets.len(),
        }
        .into());
    }

    std::fs::create_dir_all(&options.out_dir).map_err(Error::io(&options.out_dir))?;
    let work = tempfile::Builder::new()
        .prefix(".forger-work-")
        .tempdir_in(&options.out_dir)
        .map_err(Error::io(&options.out_dir))?;
    let tree_root = work.path().join("tree");
    // The payload stages in order: one per base layer, then the image's own.
    let payload_stages: Vec<(&str, &str)> = plan
        .stages
        .iter()
        .filter(|s| s.name.starts_with("base:") || s.name == "payload")
        .map(|s| (s.name.as_str(), s.hash.as_str()))
        .collect();
    assert_eq!(payload_stages.len(), payloads.len(), "a payload per stage");
    let overlays_hash = plan
        .stage_hash("overlays")
        .expect("plans have an overlays stage");

    // Output lookups first (their keys come from the plan alone): whether a disk that builds
    // on the payload's image still has to be written decides if the payload tree is kept.
    let mut jobs = Vec::new();
    for target in &plan.targets {
        let stem = options
            .output_name
            .clone()
            .unwrap_or_else(|| target.name.clone());
        let stage = format!("target:{}", target.name);
        let hash = plan
            .stage_hash(&stage)
            .expect("every selected target has a stage");
        let dest = options.out_dir.join(outputs::file_name(target, &stem));
        let cached = match cache {
            Some(c) => {
                let lookup = or_miss(c.restore_output(hash, &dest), Lookup::Miss, &stage, events)?;
                events.cache(&stage, lookup);
                lookup.is_hit()
            }
            None => false,
        };
        jobs.push(Job {
            target,
            stage,
            hash,
            dest,
            cached,
        });
    }
    let keep_base = jobs
        .iter()
        .any(|j| !j.cached && outputs::builds_on_payload(&plan, j.target));
    let base_root = work.path().join("base");

    // The tree after overlays, and the cache to store it in when it was built here.
    let (mut tree, base, store_in) =
        match lookup_tree(cache, overlays_hash, &tree_root, "overlays", events)? {
            Some(tree) => {
                let base = match keep_base {
                    true => Some(payload_tree(
                        &payload_stages,
                        &payloads,
                        cache,
                        &base_root,
                        events,
                    )?),
                    false => None,
                };
                (tree, base, None)
            }
            None => {
                let mut tree = payload_tree(&payload_stages, &payloads, cache, &tree_root, events)?;
                let base = match keep_base {
                    true => Some(tree.link_clone(&base_root)?),
                    false => None,
                };
                let detail = format!(
                    "{} users, {} actions",
                    plan.users.len(),
                    plan.overlays.len()
                );
                let warnings = timed(events, "overlays", &detail, || {
                    crate::stage::apply(&mut tree, &plan)
                })?;
                for w in warnings {
                    events.warning(w.code, &w.message);
                }
                (tree, base, cache)
            }
        };
    tree.manifest.clamp_mtimes(plan.epoch);
    let base = base.map(|mut b| {
        b.manifest.clamp_mtimes(plan.epoch);
        outputs::Base {
            tree: std::sync::Arc::new(b),
            key: plan
                .stage_hash("payload")
                .expect("plans have a payload stage")
                .to_owned(),
        }
    });

    // Every missing output is written at the same time (each writer only reads the trees),
    // and the overlaid tree is stored meanwhile; then outputs are reported and pushed in plan
    // order.
    let (written, stored) = std::thread::scope(|scope| {
        let stored = store_in.map(|c| scope.spawn(|| c.store_tree(overlays_hash, &tree)));
        let written = write_outputs(
            &plan,
            &tree,
            base.as_ref(),
            work.path(),
            &jobs,
            cache,
            events,
        );
        let stored = stored.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (written, stored)
    });
    stored.transpose()?;

    let mut report = BuildReport::default();
    for (job, written) in jobs.into_iter().zip(written) {
        let Job {
            target,
            stage,
            dest,
            ..
        } = job;
        let path = match written {
            None => dest,
            Some((result, elapsed)) => {
                let (path, warnings) = result?;
                events.stage_done(&stage, elapsed);
                for w in warnings {
                    events.warning(w.code, &w.message);
                }
                path
            }
        };
        events.output(&target.name, &path);
        let pushed = match (&target.push_to, options.skip_push) {
            (Some(reference), false) => {
                let stage = format!("push:{}", target.name);
                let r = timed(events, &stage, reference, || {
                    outputs::push(&plan, target, &path, reference, &options.push)
                })?;
                Some(format!("{}@{}", r.reference, r.manifest))
            }
            _ => None,
        };
        report.outputs.push(Output {
            target: target.name.clone(),
            kind: target.kind.keyword(),
            path,
            pushed,
        });
    }
    if let Some(c) = cache.filter(|c| c.pushes()) {
        let targets: Vec<&str> = plan
            .stages
            .iter()
            .filter(|s| s.name.starts_with("target:"))
            .map(|s| s.hash.as_str())
            .collect();
        let mut trees: Vec<&str> = payload_stages.iter().map(|(_, hash)| *hash).collect();
        trees.push(overlays_hash);
        let detail = format!("{} entries", trees.len() + targets.len());
        timed(events, "cache-push", &detail, || c.push(&trees, &targets))?;
    }
    Ok(report)
}

/// The staged payload: the latest payload stage the cache holds, with the stages after it
/// installed on top, each stored as it completes. Without a hit the first payload starts
/// from an empty tree. A child of a cached base thus installs only its own packages.
fn payload_tree(
    stages: &[(&str, &str)],
    payloads: &[Payload],
    cache: Option<&Cache>,
    root: &Path,
    events: &mut dyn Events,
) -> crate::Result<StagingTree> {
    let mut found = None;
    for (i, (stage, hash)) in stages.iter().enumerate().rev() {
        if let Some(tree) = lookup_tree(cache, hash, root, stage, events)? {
            found = Some((i + 1, tree));
            break;
        }
    }
    let (next, mut tree) = match found {
        Some(hit) => hit,
        None => (0, StagingTree::create(root)?),
    };
    for ((stage, hash), payload) in stages.iter().zip(payloads).skip(next) {
        timed(events, stage, &payload.describe(), || {
            payload.install(&mut tree)
        })?;
        if let Some(c) = cache {
            c.store_tree(hash, &tree)?;
        }
    }
    Ok(tree)
}

/// One selected target on its way to an output.
struct Job<'p> {
    target: &'p Target,
    stage: String,
    hash: &'p str,
    dest: PathBuf,
    /// Restored from the stage cache: nothing to write.
    cached: bool,
}

/// What writing one output gave, and how long it took.
type Written = (crate::Result<(PathBuf, Vec<Warning>)>, Duration);

/// Writes the outputs of the jobs that were not cached, all at once, one thread each (the
/// writers stream, so memory stays bounded; a compressing writer uses every core on its
/// own, a file system writer mostly waits for its tool), and stores each in the cache.
/// `None` for cached jobs. Stage starts are reported here; the caller reports each stage's
/// end in plan order.
fn write_outputs(
    plan: &Plan,
    tree: &StagingTree,
    base: Option<&outputs::Base>,
    work: &Path,
    jobs: &[Job<'_>],
    cache: Option<&Cache>,
    events: &mut dyn Events,
) -> Vec<Option<Written>> {
    std::thread::scope(|scope| {
        let running: Vec<_> = jobs
            .iter()
            .enumerate()
            .map(|(i, job)| {
                if job.cached {
                    return None;
                }
                events.stage_start(&job.stage, job.target.kind.keyword());
                let scratch = work.join(format!("target-{i}"));
                Some(scope.spawn(move || {
                    let start = Instant::now();
                    let result =
                        outputs::write(plan, job.target, tree, base, &scratch, &job.dest, cache);
                    let elapsed = start.elapsed();
                    // Stored here, so that one output's digest is read while another is
                    // still being written.
                    let result = result.and_then(|(path, warnings)| {
                        make_readable(&path).map_err(Error::io(&path))?;
                        if let Some(c) = cache {
                            c.store_output(job.hash, &path)?;
                        }
                        Ok((path, warnings))
                    });
                    (result, elapsed)
                }))
            })
            .collect();
        running
            .into_iter()
            .map(|handle| handle.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))))
            .collect()
    })
}

/// The plan with its payload stage keyed by the payload's fingerprint (for package payloads,
/// the package-set snapshot), and the cache to use. Without a cache nothing is fetched. A
/// package snapshot that cannot be fetched turns the cache off for this build, with a
/// warning: a hit could not be trusted, and the installer reports the real problem if the
/// repositories are in fact unusable.
fn keyed_plan<'a>(
    plan: Plan,
    payload: &Payload,
    options: &'a BuildOptions,
    events: &mut dyn Events,
) -> crate::Result<(Plan, Option<&'a Cache>)> {
    let Some(cache) = options.cache.as_ref() else {
        return Ok((plan, None));
    };
    match payload.fingerprint() {
        Ok(fingerprint) => Ok((plan.with_payload_fingerprint(&fingerprint), Some(cache))),
        Err(e) if options.rootfs.is_none() => {
            events.warning(
                "cache-snapshot-unavailable",
                &format!("{e}; building every stage without the stage cache"),
            );
            Ok((plan, None))
        }
        Err(e) => Err(e.into()),
    }
}

/// Outputs are written through temporary files, which are private (`0600`/`0700`); a
/// finished output is as readable as any file the user would create (`0644`, dirs `0755`).
fn make_readable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
        for entry in std::fs::read_dir(path)? {
            make_readable(&entry?.path())?;
        }
    } else if meta.is_file() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// Restores a staged tree from the cache, reporting the lookup.
fn lookup_tree(
    cache: Option<&Cache>,
    hash: &str,
    root: &Path,
    stage: &str,
    events: &mut dyn Events,
) -> crate::Result<Option<StagingTree>> {
    let Some(cache) = cache else {
        return Ok(None);
    };
    let (lookup, tree) = or_miss(
        cache.restore_tree(hash, root),
        (Lookup::Miss, None),
        stage,
        events,
    )?;
    events.cache(stage, lookup);
    Ok(tree)
}

/// A cache registry that cannot be read makes a miss with a warning, not a failed build: the
/// cache only saves work, and the build can still do it.
fn or_miss<T>(
    found: Result<T, crate::cache::Error>,
    miss: T,
    stage: &str,
    events: &mut dyn Events,
) -> crate::Result<T> {
    match found {
        Err(e @ crate::cache::Error::Registry { .. }) => {
            let cause = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            events.warning(
                "cache-registry-unavailable",
                &format!("{stage}: {e}{cause}; building the stage instead"),
            );
            Ok(miss)
        }
        other => Ok(other?),
    }
}

fn timed<T, E>(
    events: &mut dyn Events,
    stage: &str,
    detail: &str,
    f: impl FnOnce() -> Result<T, E>,
) -> crate::Result<T>
where
    crate::Error: From<E>,
{
    events.stage_start(stage, detail);
    let start = Instant::now();
    let out = f()?;
    events.stage_done(stage, start.elapsed());
    Ok(out)
}

/// The temporary name an output is written under before the rename (`x.qcow2.partial`).
pub fn partial_name(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}
