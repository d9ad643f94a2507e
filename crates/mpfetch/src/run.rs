//! The fetch itself: which documents are still missing, the requests in parallel batches,
//! every answer checked and written, the manifest and skip list kept up to date so that a
//! killed run resumes (see the crate doc for what is asked where).

use super::*;
use crate::files::*;
use crate::http::{encode, Client, Got};

struct Run<'a> {
    opts: &'a FetchOptions,
    client: Client,
    out: PathBuf,
    manifest: Mutex<std::fs::File>,
    skipped_out: Mutex<std::fs::File>,
    done: HashMap<String, ManifestEntry>,
    skipped: BTreeSet<(String, String)>,
    counts: Mutex<BTreeMap<String, KindCount>>,
    failures: Mutex<Vec<Failure>>,
    fatal: Mutex<Option<FetchError>>,
    stop: AtomicBool,
    progress: &'a (dyn Fn(Event) + Sync),
}

/// Downloads what `opts` asks for into `opts.out`; see the crate docs. Stops early only for a
/// missing/rejected key, an unusable material list or a local I/O error; everything else is
/// counted in the summary.
pub fn fetch(
    opts: &FetchOptions,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<FetchSummary, FetchError> {
    let start = Instant::now();
    if opts.api_key.expose().is_empty() {
        return Err(FetchError::MissingKey {
            config: default_config_path().display().to_string(),
        });
    }
    if opts.modalities.is_empty() {
        return Err(FetchError::Option {
            option: "modalities".into(),
            problem: "nothing to fetch".into(),
        });
    }
    let out = opts.out.clone();
    let meta = out.join(META_DIR);
    std::fs::create_dir_all(&meta).map_err(|e| FetchError::io(&meta, e))?;
    let partial_removed = remove_partials(&out)?;
    let manifest_path = meta.join("manifest.jsonl");
    let skipped_path = meta.join("skipped.jsonl");
    let done = load_manifest(&out, &manifest_path)?;
    let skipped: BTreeSet<(String, String)> = if opts.retry_skipped {
        BTreeSet::new()
    } else {
        load_jsonl::<Skipped>(&skipped_path)?
            .into_iter()
            .map(|s| (s.modality, s.material_id))
            .collect()
    };
    if opts.retry_skipped {
        std::fs::write(&skipped_path, b"").map_err(|e| FetchError::io(&skipped_path, e))?;
    }
    let append = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| FetchError::io(p, e))
    };
    let run = Run {
        opts,
        client: Client::new(opts.api_key.clone(), opts.retry.clone()),
        out: out.clone(),
        manifest: Mutex::new(append(&manifest_path)?),
        skipped_out: Mutex::new(append(&skipped_path)?),
        done,
        skipped,
        counts: Mutex::new(BTreeMap::new()),
        failures: Mutex::new(Vec::new()),
        fatal: Mutex::new(None),
        stop: AtomicBool::new(false),
        progress,
    };

    let ids = match &opts.material_ids {
        Some(ids) => {
            let mut ids = ids.clone();
            if let Some(n) = opts.limit {
                ids.truncate(n);
            }
            ids
        }
        None => run.list_ids()?,
    };

    let mut groups = Vec::new();
    let want = |m: Modality| opts.modalities.contains(&m);
    if want(Modality::Structure) || want(Modality::Summary) {
        groups.push(Group::Summary);
    }
    if want(Modality::Elasticity) {
        groups.push(Group::Elasticity);
    }
    if want(Modality::Text) {
        groups.push(Group::Robocrys);
    }
    if want(Modality::Dos) {
        groups.push(Group::Dos);
    }
    if want(Modality::ChargeDensity) {
        groups.push(Group::ChargeDensity);
    }
    for g in groups {
        run.group(g, &ids);
        if let Some(e) = run.fatal.lock().map(|mut f| f.take()).unwrap_or(None) {
            return Err(e);
        }
    }
    drop(run.manifest);
    drop(run.skipped_out);
    // Sorted, one line per path (the last written wins): the same after any resume.
    let final_manifest = load_manifest(&out, &manifest_path)?;
    let mut entries: Vec<&ManifestEntry> = final_manifest.values().collect();
    entries.sort();
    write_jsonl(&manifest_path, &entries)?;
    let mut skips: Vec<Skipped> = load_jsonl::<Skipped>(&skipped_path)?;
    skips.sort();
    skips.dedup();
    write_jsonl(&skipped_path, &skips)?;

    Ok(FetchSummary {
        materials: ids.len(),
        kinds: run.counts.into_inner().unwrap_or_default(),
        partial_removed,
        failures: run.failures.into_inner().unwrap_or_default(),
        manifest: manifest_path,
        skipped_file: skipped_path,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The `data` list of an API answer.
pub(crate) fn data_of(body: Vec<u8>) -> Result<Vec<Map<String, Value>>, String> {
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("invalid JSON: {e}"))?;
    let Some(Value::Array(docs)) = v.get("data") else {
        return Err("no \"data\" list in the answer".into());
    };
    docs.iter()
        .enumerate()
        .map(|(i, d)| match d {
            Value::Object(m) => Ok(m.clone()),
            _ => Err(format!("data[{i}] is not a document object")),
        })
        .collect()
}

pub(crate) fn str_field<'v>(doc: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    doc.get(key).and_then(Value::as_str).map(str::trim)
}

impl Run<'_> {
    fn url(&self, route: &str, params: &[(&str, String)]) -> String {
        let q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!(
            "{}/{route}/?{}",
            self.opts.endpoint.trim_end_matches('/'),
            q.join("&")
        )
    }

    fn on_retry(&self) -> impl Fn(RetryNote) + '_ {
        |n| (self.progress)(Event::Retry(n))
    }

    /// Every material id the summary route lists for the query, paged with `_limit`/`_skip`.
    fn list_ids(&self) -> Result<Vec<String>, FetchError> {
        let mut ids = Vec::new();
        let mut seen = BTreeSet::new();
        let page = self.opts.page_size.max(1);
        let mut skip = 0usize;
        loop {
            let want = match self.opts.limit {
                Some(n) if ids.len() >= n => break,
                Some(n) => page.min(n - ids.len()),
                None => page,
            };
            let mut params: Vec<(&str, String)> = self
                .opts
                .query
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            params.push(("_fields", "material_id".into()));
            params.push(("_limit", want.to_string()));
            params.push(("_skip", skip.to_string()));
            let url = self.url("materials/summary", &params);
            let docs = match self.client.get(&url, true, &data_of, &self.on_retry())? {
                Got::Found(d) => d,
                Got::Missing => {
                    return Err(FetchError::Http {
                        url: url.split('?').next().unwrap_or("").into(),
                        problem: "HTTP 404: the summary route is not there (check --endpoint)"
                            .into(),
                    })
                }
            };
            let n = docs.len();
            for (i, d) in docs.iter().enumerate() {
                let id = str_field(d, "material_id").ok_or_else(|| FetchError::Http {
                    url: url.split('?').next().unwrap_or("").into(),
                    problem: format!("data[{i}] has no material_id"),
                })?;
                if seen.insert(id.to_string()) {
                    ids.push(id.to_string());
                }
            }
            (self.progress)(Event::Listing { found: ids.len() });
            skip += n;
            if n < want {
                break;
            }
        }
        if let Some(n) = self.opts.limit {
            ids.truncate(n);
        }
        Ok(ids)
    }

    fn count(&self, g: Group, f: impl FnOnce(&mut KindCount)) {
        if let Ok(mut c) = self.counts.lock() {
            f(c.entry(g.dir().to_string()).or_default());
        }
    }

    fn fail(&self, g: Group, ids: &[String], e: FetchError) {
        if matches!(e, FetchError::KeyRejected { .. } | FetchError::Io { .. }) {
            self.stop.store(true, Ordering::SeqCst);
            if let Ok(mut f) = self.fatal.lock() {
                f.get_or_insert(e);
            }
            return;
        }
        let failure = Failure {
            modality: g.dir().into(),
            material_ids: ids.to_vec(),
            reason: self.opts.api_key.scrub(&e.to_string()),
        };
        self.count(g, |c| c.failed += ids.len());
        (self.progress)(Event::Failed(failure.clone()));
        if let Ok(mut f) = self.failures.lock() {
            f.push(failure);
        }
    }

    fn skip(&self, g: Group, id: &str, reason: String) -> Result<(), FetchError> {
        let line = serde_json::to_string(&Skipped {
            modality: g.dir().into(),
            material_id: id.into(),
            reason,
        })
        .map_err(|e| FetchError::io(&self.out, e))?;
        let path = self.out.join(META_DIR).join("skipped.jsonl");
        let mut f = self
            .skipped_out
            .lock()
            .map_err(|_| FetchError::io(&path, "lock poisoned"))?;
        writeln!(f, "{line}").map_err(|e| FetchError::io(&path, e))?;
        self.count(g, |c| c.skipped += 1);
        Ok(())
    }

    /// Writes one document atomically and appends its manifest line.
    fn write_doc(
        &self,
        g: Group,
        id: &str,
        task_id: Option<&str>,
        source: String,
        bytes: &[u8],
    ) -> Result<(), FetchError> {
        let rel = g.file(id);
        let path = self.out.join(&rel);
        write_atomic(&path, bytes)?;
        let entry = ManifestEntry {
            modality: g.dir().into(),
            material_id: id.into(),
            task_id: task_id.map(str::to_string),
            path: rel,
            bytes: bytes.len() as u64,
            sha256: hex(&Sha256::digest(bytes)),
            source,
        };
        let line = serde_json::to_string(&entry).map_err(|e| FetchError::io(&path, e))?;
        let mpath = self.out.join(META_DIR).join("manifest.jsonl");
        let mut f = self
            .manifest
            .lock()
            .map_err(|_| FetchError::io(&mpath, "lock poisoned"))?;
        writeln!(f, "{line}").map_err(|e| FetchError::io(&mpath, e))?;
        f.flush().map_err(|e| FetchError::io(&mpath, e))?;
        self.count(g, |c| {
            c.fetched += 1;
            c.bytes += bytes.len() as u64;
        });
        Ok(())
    }

    fn group(&self, g: Group, ids: &[String]) {
        let is_done = |id: &String| self.done.contains_key(&g.file(id));
        let is_skipped = |id: &String| self.skipped.contains(&(g.dir().to_string(), id.clone()));
        let todo: Vec<String> = ids
            .iter()
            .filter(|id| !is_done(id) && !is_skipped(id))
            .cloned()
            .collect();
        let complete = ids.iter().filter(|id| is_done(id)).count();
        let skipped = ids.iter().filter(|id| is_skipped(id)).count();
        self.count(g, |c| {
            c.complete += complete;
            c.skipped += skipped;
        });
        (self.progress)(Event::Started {
            modality: g.dir(),
            total: ids.len(),
            done: complete + skipped,
        });
        let chunks: Vec<&[String]> = todo.chunks(self.opts.page_size.max(1)).collect();
        self.pool(chunks, |chunk| {
            let r = match g {
                Group::Dos => self.dos_chunk(chunk),
                Group::ChargeDensity => self.chgcar_chunk(chunk),
                _ => self.rest_chunk(g, chunk),
            };
            if let Err(e) = r {
                self.fail(g, chunk, e);
                (self.progress)(Event::Advanced {
                    modality: g.dir(),
                    count: chunk.len(),
                });
            }
        });
    }

    /// Runs `f` on every item with `concurrency` threads; stops handing out items after a
    /// fatal error.
    fn pool<T: Sync>(&self, items: Vec<T>, f: impl Fn(&T) + Sync) {
        let next = AtomicUsize::new(0);
        let n = self.opts.concurrency.clamp(1, 64).min(items.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..n {
                s.spawn(|| loop {
                    if self.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    f(item);
                });
            }
        });
    }

    /// One request's worth of material ids from a REST route, paged until the answer is short.
    fn query_ids(
        &self,
        route: &str,
        id_param: &str,
        ids: &[String],
        fields: &[&str],
        id_key: &str,
    ) -> Result<Vec<Map<String, Value>>, FetchError> {
        let mut all = Vec::new();
        let page = self.opts.page_size.max(1);
        let mut skip = 0usize;
        loop {
            let url = self.url(
                route,
                &[
                    (id_param, ids.join(",")),
                    ("_fields", fields.join(",")),
                    ("_limit", page.to_string()),
                    ("_skip", skip.to_string()),
                ],
            );
            let docs = match self.client.get(&url, true, &data_of, &self.on_retry())? {
                Got::Found(d) => d,
                Got::Missing => Vec::new(),
            };
            let n = docs.len();
            for (i, d) in docs.iter().enumerate() {
                if str_field(d, id_key).is_none() {
                    return Err(FetchError::Http {
                        url: url.split('?').next().unwrap_or("").into(),
                        problem: format!("data[{i}] has no {id_key}"),
                    });
                }
            }
            all.extend(docs);
            skip += n;
            if n < page || all.len() >= ids.len() {
                break;
            }
        }
        Ok(all)
    }

    fn rest_chunk(&self, g: Group, ids: &[String]) -> Result<(), FetchError> {
        let fields: Vec<&str> = match g {
            Group::Summary => {
                let mut f: BTreeSet<&str> = BTreeSet::new();
                if self.opts.modalities.contains(&Modality::Structure) {
                    f.extend(STRUCTURE_FIELDS);
                }
                if self.opts.modalities.contains(&Modality::Summary) {
                    f.extend(SUMMARY_FIELDS);
                }
                f.into_iter().collect()
            }
            Group::Elasticity => ELASTICITY_FIELDS.to_vec(),
            _ => ROBOCRYS_FIELDS.to_vec(),
        };
        let docs = self.query_ids(g.route(), "material_ids", ids, &fields, "material_id")?;
        let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let mut got = BTreeSet::new();
        for d in docs {
            let Some(id) = str_field(&d, "material_id").map(str::to_string) else {
                continue;
            };
            if !wanted.contains(id.as_str()) || !got.insert(id.clone()) {
                continue;
            }
            let bytes =
                serde_json::to_vec(&Value::Object(d)).map_err(|e| FetchError::io(&self.out, e))?;
            self.write_doc(g, &id, None, g.route().into(), &bytes)?;
        }
        for id in ids.iter().filter(|id| !got.contains(*id)) {
            self.skip(g, id, format!("not in {}", g.route()))?;
        }
        (self.progress)(Event::Advanced {
            modality: g.dir(),
            count: ids.len(),
        });
        Ok(())
    }

    fn bucket_url(&self, key_template: &str, task_id: &str) -> (String, String) {
        let key = key_template.replace("{task_id}", task_id);
        (
            format!("{}/{key}", self.opts.bucket_url.trim_end_matches('/')),
            key,
        )
    }

    /// DOS: task ids from the electronic-structure route, then one bucket document each.
    fn dos_chunk(&self, ids: &[String]) -> Result<(), FetchError> {
        let docs = self.query_ids(
            Group::Dos.route(),
            "material_ids",
            ids,
            &["material_id", "dos"],
            "material_id",
        )?;
        let mut tasks: BTreeMap<String, String> = BTreeMap::new();
        for d in &docs {
            if let (Some(id), Some(t)) = (str_field(d, "material_id"), dos_task_id(d)) {
                tasks.insert(id.to_string(), t);
            }
        }
        let mut singles = Vec::new();
        for id in ids {
            match tasks.get(id) {
                Some(t) => singles.push((id.clone(), t.clone())),
                None => {
                    self.skip(
                        Group::Dos,
                        id,
                        "no DOS task in materials/electronic_structure".into(),
                    )?;
                    self.advance(Group::Dos);
                }
            }
        }
        self.pool(singles, |(id, task)| {
            if let Err(e) = self.dos_one(id, task) {
                self.fail(Group::Dos, std::slice::from_ref(id), e);
            }
            self.advance(Group::Dos);
        });
        Ok(())
    }

    fn advance(&self, g: Group) {
        (self.progress)(Event::Advanced {
            modality: g.dir(),
            count: 1,
        });
    }

    fn dos_one(&self, id: &str, task: &str) -> Result<(), FetchError> {
        let (url, key) = self.bucket_url(&self.opts.dos_key, task);
        let check = |body: Vec<u8>| -> Result<Vec<u8>, String> {
            let text = gunzip_if_needed(&body)?;
            let mut doc: Map<String, Value> =
                serde_json::from_slice(&text).map_err(|e| format!("invalid JSON: {e}"))?;
            if !doc.contains_key("energies") {
                return Err("not a DOS document (no \"energies\")".into());
            }
            // The material's structure is the summary's; a second one would only conflict.
            doc.remove("structure");
            doc.insert("material_id".into(), Value::String(id.into()));
            doc.insert("task_id".into(), Value::String(task.into()));
            let json = serde_json::to_vec(&Value::Object(doc)).map_err(|e| e.to_string())?;
            gzip(&json).map_err(|e| e.to_string())
        };
        match self.client.get(&url, false, &check, &self.on_retry())? {
            Got::Found(bytes) => self.write_doc(Group::Dos, id, Some(task), key, &bytes),
            Got::Missing => self.skip(Group::Dos, id, format!("bucket has no {key}")),
        }
    }

    /// Charge density: static tasks from the core route, the latest from the tasks route, then
    /// the bucket's `chgcars/<task_id>.json.gz` (as `mp-api` picks it).
    fn chgcar_chunk(&self, ids: &[String]) -> Result<(), FetchError> {
        let g = Group::ChargeDensity;
        let docs = self.query_ids(
            "materials/core",
            "material_ids",
            ids,
            &["material_id", "calc_types"],
            "material_id",
        )?;
        let mut statics: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in &docs {
            let Some(id) = str_field(d, "material_id") else {
                continue;
            };
            if let Some(Value::Object(ct)) = d.get("calc_types") {
                let t: Vec<String> = ct
                    .iter()
                    .filter(|(_, v)| v.as_str().is_some_and(|s| STATIC_CALC_TYPES.contains(&s)))
                    .map(|(k, _)| k.clone())
                    .collect();
                if !t.is_empty() {
                    statics.insert(id.to_string(), t);
                }
            }
        }
        let all_tasks: Vec<String> = statics.values().flatten().cloned().collect();
        let mut updated: HashMap<String, String> = HashMap::new();
        for chunk in all_tasks.chunks(self.opts.page_size.max(1)) {
            for d in self.query_ids(
                "materials/tasks",
                "task_ids",
                chunk,
                &["task_id", "last_updated"],
                "task_id",
            )? {
                if let Some(t) = str_field(&d, "task_id") {
                    let when = d
                        .get("last_updated")
                        .map(|v| match v {
                            // ISO strings, or MongoDB's {"$date": ...}: compared as text.
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .unwrap_or_default();
                    updated.insert(t.to_string(), when);
                }
            }
        }
        let mut singles = Vec::new();
        for id in ids {
            let latest = statics.get(id).and_then(|ts| {
                ts.iter()
                    .filter_map(|t| updated.get(t).map(|w| (w.clone(), t.clone())))
                    .max()
                    .map(|(_, t)| t)
            });
            match latest {
                Some(t) => singles.push((id.clone(), t)),
                None => {
                    self.skip(
                        g,
                        id,
                        "no GGA or GGA+U static task in materials/core".into(),
                    )?;
                    self.advance(g);
                }
            }
        }
        self.pool(singles, |(id, task)| {
            if let Err(e) = self.chgcar_one(id, task) {
                self.fail(g, std::slice::from_ref(id), e);
            }
            self.advance(g);
        });
        Ok(())
    }

    fn chgcar_one(&self, id: &str, task: &str) -> Result<(), FetchError> {
        let (url, key) = self.bucket_url(&self.opts.chgcar_key, task);
        let check = |body: Vec<u8>| -> Result<Vec<u8>, String> {
            let text = gunzip_if_needed(&body)?;
            let text = std::str::from_utf8(&text).map_err(|e| format!("not UTF-8: {e}"))?;
            let inner = chgcar_inner(text)?;
            // Parse the grid in full: a transfer cut inside it must not pass as a document.
            multimat_modalities::charge_density::read_mp_json(inner, &key)
                .map_err(|e| e.to_string())?;
            let body = inner.trim_start().strip_prefix('{').unwrap_or(inner);
            let head = serde_json::json!({"material_id": id, "task_id": task}).to_string();
            let mut json = Vec::with_capacity(inner.len() + head.len());
            json.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
            if !body.trim_start().starts_with('}') {
                json.push(b',');
            }
            json.extend_from_slice(body.as_bytes());
            gzip(&json).map_err(|e| e.to_string())
        };
        match self.client.get(&url, false, &check, &self.on_retry())? {
            Got::Found(bytes) => self.write_doc(Group::ChargeDensity, id, Some(task), key, &bytes),
            Got::Missing => self.skip(Group::ChargeDensity, id, format!("bucket has no {key}")),
        }
    }
}

/// The DOS task id of an electronic-structure document: `dos.task_id`, else the first
/// `dos.total.<spin>.task_id`.
pub(crate) fn dos_task_id(doc: &Map<String, Value>) -> Option<String> {
    let dos = doc.get("dos")?.as_object()?;
    if let Some(t) = dos.get("task_id").and_then(Value::as_str) {
        return Some(t.trim().to_string());
    }
    let total = dos.get("total")?.as_object()?;
    ["1", "Spin.up", "up"]
        .iter()
        .filter_map(|k| total.get(*k))
        .chain(total.values())
        .find_map(|v| v.get("task_id").and_then(Value::as_str))
        .map(|s| s.trim().to_string())
}

/// The pymatgen Chgcar inside a bucket document (`{"data": {...Chgcar...}, ...}`), or the
/// document itself when it already is one (a mirror may serve it bare).
pub(crate) fn chgcar_inner(text: &str) -> Result<&str, String> {
    #[derive(Deserialize)]
    struct Wrapper<'a> {
        #[serde(rename = "@class")]
        class: Option<String>,
        #[serde(borrow)]
        data: Option<&'a serde_json::value::RawValue>,
    }
    let w: Wrapper = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    match (w.class.as_deref(), w.data) {
        (Some("Chgcar" | "VolumetricData"), _) => Ok(text),
        (_, Some(d)) if d.get().trim_start().starts_with('{') => Ok(d.get()),
        _ => Err("not a charge-density document (no Chgcar in \"data\")".into()),
    }
}
