//! `multimat data fetch-mp`: download Materials Project documents into a folder that
//! `multimat data import` reads (docs/materials-project.md).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use multimat_mpfetch::{
    fetch, parse_material_ids, parse_query, ApiKey, Event, FetchOptions, Modality, RetryPolicy,
};

#[derive(clap::Args)]
pub struct Args {
    /// Output folder (created; an earlier fetch there is resumed).
    #[arg(long)]
    out: PathBuf,
    /// Material ids: a file (one per line or comma-separated) or a comma-separated list.
    /// Default: every material the summary route lists for --query.
    #[arg(long)]
    material_ids: Option<String>,
    /// Summary-route filter KEY=VALUE (repeatable), e.g. has_props=charge_density, band_gap_min=0.5.
    #[arg(long = "query")]
    query: Vec<String>,
    /// What to fetch: structure,text,dos,charge_density,elasticity,summary.
    #[arg(
        long,
        default_value = "structure,text,dos,charge_density,elasticity,summary"
    )]
    modalities: String,
    /// At most this many materials.
    #[arg(long)]
    limit: Option<usize>,
    /// REST API base URL (a mirror can stand in).
    #[arg(long, default_value = multimat_mpfetch::DEFAULT_ENDPOINT)]
    endpoint: String,
    /// Parsed-data bucket base URL (read anonymously; the key is never sent there).
    #[arg(long, default_value = multimat_mpfetch::DEFAULT_BUCKET_URL)]
    bucket_url: String,
    /// Bucket key of a DOS document ({task_id} is replaced).
    #[arg(long, default_value = multimat_mpfetch::DEFAULT_DOS_KEY)]
    dos_key: String,
    /// Bucket key of a charge density ({task_id} is replaced).
    #[arg(long, default_value = multimat_mpfetch::DEFAULT_CHGCAR_KEY)]
    chgcar_key: String,
    /// Config file holding the key under [materials_project] api_key (MP_API_KEY wins).
    /// Default: ~/.config/multimat/config.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Documents (and material ids) per API request.
    #[arg(long, default_value_t = 500)]
    page_size: usize,
    /// Retries of a failed request (429, 5xx, dropped or cut transfers).
    #[arg(long, default_value_t = 6)]
    retries: u32,
    /// Connect timeout and longest silence of a transfer, s.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Ask again for materials an earlier run put on the skip list.
    #[arg(long)]
    retry_skipped: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let modalities: BTreeSet<Modality> = args
        .modalities
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            Modality::from_name(s).ok_or_else(|| {
                anyhow::anyhow!(
                    "--modalities: unknown {s:?} (use structure, text, dos, charge_density, elasticity, summary)"
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(
        args.timeout.is_finite() && args.timeout > 0.0,
        "--timeout must be a positive number of seconds"
    );
    let key = ApiKey::resolve(args.config.as_deref())?;
    let mut opts = FetchOptions::new(&args.out, key);
    opts.endpoint = args.endpoint;
    opts.bucket_url = args.bucket_url;
    opts.dos_key = args.dos_key;
    opts.chgcar_key = args.chgcar_key;
    opts.material_ids = args
        .material_ids
        .as_deref()
        .map(parse_material_ids)
        .transpose()?;
    opts.query = args
        .query
        .iter()
        .map(|q| parse_query(q))
        .collect::<Result<_, _>>()?;
    opts.modalities = modalities;
    opts.limit = args.limit;
    opts.concurrency = args.concurrency.max(1);
    opts.page_size = args.page_size.max(1);
    opts.retry = RetryPolicy {
        retries: args.retries,
        timeout: Duration::from_secs_f64(args.timeout),
        ..RetryPolicy::default()
    };
    opts.retry_skipped = args.retry_skipped;

    let multi = indicatif::MultiProgress::new();
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let bars: Mutex<HashMap<&'static str, indicatif::ProgressBar>> = Mutex::new(HashMap::new());
    let listing = Mutex::new(None::<indicatif::ProgressBar>);
    let shown_failures = std::sync::atomic::AtomicUsize::new(0);
    let say = |line: String| {
        if multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = multi.println(line);
        }
    };
    let progress = |e: Event| match e {
        Event::Listing { found } => {
            let mut l = listing.lock().unwrap_or_else(|p| p.into_inner());
            let bar = l.get_or_insert_with(|| {
                let b = multi.add(indicatif::ProgressBar::new_spinner());
                b.set_message("listing materials");
                b
            });
            bar.set_position(found as u64);
        }
        Event::Started {
            modality,
            total,
            done,
        } => {
            if let Some(b) = listing.lock().unwrap_or_else(|p| p.into_inner()).take() {
                b.finish();
            }
            let bar = multi.add(crate::commands::progress_bar(total as u64, modality));
            bar.set_position(done as u64);
            bars.lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(modality, bar);
        }
        Event::Advanced { modality, count } => {
            if let Some(b) = bars.lock().unwrap_or_else(|p| p.into_inner()).get(modality) {
                b.inc(count as u64);
            }
        }
        Event::Retry(n) => {
            if !multi.is_hidden() {
                let _ = multi.println(format!(
                    "retrying {} in {:.1} s: {}",
                    n.url, n.wait_s, n.reason
                ));
            }
        }
        Event::Failed(f) => {
            // The first few are shown as they happen; all are in the summary.
            if shown_failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 5 {
                say(format!(
                    "failed {} of {}: {}",
                    f.modality,
                    f.material_ids.join(","),
                    f.reason
                ));
            }
        }
    };
    let summary = fetch(&opts, &progress)?;
    for b in bars
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .values()
    {
        b.finish();
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    let skipped: usize = summary.kinds.values().map(|c| c.skipped).sum();
    if skipped > 0 {
        eprintln!(
            "{skipped} document(s) MP does not have were skipped; see {}",
            summary.skipped_file.display()
        );
    }
    if !summary.failures.is_empty() {
        anyhow::bail!(
            "{} request(s) failed after retries; run the same command again to fetch what is missing",
            summary.failures.len()
        );
    }
    eprintln!(
        "done: import with `multimat data import --out STORE {}`",
        args.out.display()
    );
    Ok(())
}
