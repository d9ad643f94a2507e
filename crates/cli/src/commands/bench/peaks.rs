//! The two peaks `bench encoders` sets its GFLOP/s against: the practical one (a large f32
//! matrix product through the same burn backend, measured) and the theoretical one (cores ×
//! clock × FLOPs per cycle, read from `/proc/cpuinfo`).

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use serde_json::{json, Value};

/// Waits for the device's queued work, so that timings include it.
pub(super) fn sync(device: &Device) -> anyhow::Result<()> {
    device
        .sync()
        .map_err(|e| anyhow::anyhow!("the tensor backend failed: {e:?}"))
}

pub(super) struct MatmulPeak {
    pub(super) best_gflops: f64,
    pub(super) median_gflops: f64,
    pub(super) reps: usize,
}

/// Best GFLOP/s of `n×n · n×n` f32 products (2n³ FLOPs each) on `device`, after one warm-up.
pub(super) fn matmul_peak(n: usize, device: &Device) -> anyhow::Result<MatmulPeak> {
    let a = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let b = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let flop = 2.0 * (n as f64).powi(3);
    drop(a.clone().matmul(b.clone()));
    sync(device)?;
    // About 2 s of products, between 5 and 50 repetitions.
    let t = Instant::now();
    drop(a.clone().matmul(b.clone()));
    sync(device)?;
    let once = t.elapsed().as_secs_f64().max(1e-6);
    let reps = ((2.0 / once) as usize).clamp(5, 50);
    let mut rates = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        let c = a.clone().matmul(b.clone());
        sync(device)?;
        rates.push(flop / t.elapsed().as_secs_f64() / 1e9);
        drop(c);
    }
    rates.sort_by(f64::total_cmp);
    Ok(MatmulPeak {
        best_gflops: rates[reps - 1],
        median_gflops: rates[reps / 2],
        reps,
    })
}

/// Theoretical f32 peak of the CPU: `cores_used × ghz × flops_per_cycle`.
///
/// Assumptions: every core sustains two vector FMA instructions per cycle at the base (or
/// reported) clock, no turbo and no SMT gain (hyper-threads share the FMA units, so logical
/// CPUs beyond the physical cores add nothing). FLOPs per cycle per core by the widest SIMD
/// flag: AVX-512F 64 (2 × 16 lanes × FMA; parts with one 512-bit unit reach half), AVX2 + FMA
/// 32 (2 × 8 × 2), AVX without FMA 16 (one 8-lane add and one 8-lane multiply), SSE2 8,
/// AArch64 ASIMD 16 (2 × 4 × 2), otherwise 2 (one scalar FMA). burn's CPU matmul (gemm without
/// its `x86-v4` feature) uses at most AVX2 + FMA, so on AVX-512 machines the practical peak
/// stays near half of this figure.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuPeak {
    /// CPU model name.
    pub model: String,
    /// Physical cores found (distinct physical id / core id pairs; logical CPUs if absent).
    pub physical_cores: usize,
    /// Cores counted in the peak: min(physical cores, worker threads).
    pub cores_used: usize,
    /// Clock, GHz.
    pub ghz: f64,
    /// Where the clock came from.
    pub ghz_source: &'static str,
    /// The SIMD level the count assumes.
    pub simd: &'static str,
    /// f32 FLOPs per cycle per core.
    pub flops_per_cycle: u32,
}

impl CpuPeak {
    /// Reads `/proc/cpuinfo` text. `threads` caps the cores counted; `max_ghz` (the sysfs
    /// maximum frequency, when readable) takes precedence over the clock in the model name,
    /// which takes precedence over the largest `cpu MHz`.
    pub fn from_cpuinfo(text: &str, threads: usize, max_ghz: Option<f64>) -> Self {
        let mut model = String::new();
        let mut flags: Vec<String> = Vec::new();
        let mut mhz: f64 = 0.0;
        let mut logical = 0usize;
        let mut cores = std::collections::BTreeSet::new();
        let mut physical_id = String::new();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "processor" => {
                    logical += 1;
                    physical_id.clear();
                }
                "model name" | "Processor" if model.is_empty() => model = value.to_string(),
                "flags" | "Features" if flags.is_empty() => {
                    flags = value.split_whitespace().map(str::to_string).collect()
                }
                "cpu MHz" => {
                    if let Ok(v) = value.parse::<f64>() {
                        mhz = mhz.max(v);
                    }
                }
                "physical id" => physical_id = value.to_string(),
                "core id" => {
                    cores.insert((physical_id.clone(), value.to_string()));
                }
                _ => {}
            }
        }
        let has = |f: &str| flags.iter().any(|x| x == f);
        let (simd, flops_per_cycle) = if has("avx512f") {
            ("AVX-512F, 2 FMA units", 64)
        } else if has("avx2") && has("fma") {
            ("AVX2 + FMA, 2 FMA units", 32)
        } else if has("avx") {
            ("AVX, 1 add + 1 mul unit", 16)
        } else if has("sse2") {
            ("SSE2, 1 add + 1 mul unit", 8)
        } else if has("asimd") {
            ("ASIMD, 2 FMA units", 16)
        } else {
            ("scalar FMA", 2)
        };
        let physical_cores = if cores.is_empty() {
            logical.max(1)
        } else {
            cores.len()
        };
        let (ghz, ghz_source) = match (max_ghz, ghz_in_model_name(&model)) {
            (Some(g), _) => (g, "cpufreq maximum"),
            (None, Some(g)) => (g, "model name"),
            (None, None) if mhz > 0.0 => (mhz / 1e3, "cpu MHz"),
            (None, None) => (0.0, "unknown"),
        };
        Self {
            model: if model.is_empty() {
                "unknown".into()
            } else {
                model
            },
            physical_cores,
            cores_used: physical_cores.min(threads.max(1)),
            ghz,
            ghz_source,
            simd,
            flops_per_cycle,
        }
    }

    /// Theoretical peak, GFLOP/s.
    pub fn gflops(&self) -> f64 {
        self.cores_used as f64 * self.ghz * self.flops_per_cycle as f64
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "model": self.model,
            "physical_cores": self.physical_cores,
            "cores_used": self.cores_used,
            "ghz": self.ghz,
            "ghz_source": self.ghz_source,
            "simd": self.simd,
            "f32_flops_per_cycle_per_core": self.flops_per_cycle,
            "gflops": self.gflops(),
            "assumptions": "two vector FMA issues per cycle per physical core at the stated clock; no turbo, no SMT gain",
        })
    }
}

/// The "@ 2.40GHz" of Intel model names.
fn ghz_in_model_name(model: &str) -> Option<f64> {
    let (_, tail) = model.rsplit_once('@')?;
    let number = tail.trim().strip_suffix("GHz")?;
    number.trim().parse().ok().filter(|g: &f64| *g > 0.0)
}

/// `cpuinfo_max_freq` of CPU 0 (kHz in sysfs), GHz; absent on most virtual machines.
pub(super) fn sysfs_max_ghz() -> Option<f64> {
    let text =
        std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").ok()?;
    let khz: f64 = text.trim().parse().ok()?;
    (khz > 0.0).then_some(khz / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPYC: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n\
        cpu MHz\t\t: 2445.406\nphysical id\t: 0\ncore id\t\t: 0\n\
        flags\t\t: fpu sse sse2 avx fma avx2\n\n\
        processor\t: 1\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2445.406\nphysical id\t: 0\n\
        core id\t\t: 1\nflags\t\t: fpu sse sse2 avx fma avx2\n";

    #[test]
    fn avx2_cores_and_clock_give_the_peak() {
        let p = CpuPeak::from_cpuinfo(EPYC, 2, None);
        assert_eq!(p.physical_cores, 2);
        assert_eq!(p.cores_used, 2);
        assert_eq!(p.flops_per_cycle, 32);
        assert_eq!(p.ghz_source, "cpu MHz");
        assert!((p.gflops() - 2.0 * 2.445406 * 32.0).abs() < 1e-9);
        // One worker thread counts one core.
        assert_eq!(CpuPeak::from_cpuinfo(EPYC, 1, None).cores_used, 1);
        // A sysfs maximum wins over cpu MHz.
        let p = CpuPeak::from_cpuinfo(EPYC, 8, Some(3.5));
        assert_eq!((p.cores_used, p.ghz), (2, 3.5));
    }

    #[test]
    fn hyperthreads_share_a_core_and_intel_names_give_the_clock() {
        // Two logical CPUs on one core, AVX-512, clock in the model name.
        let text = "processor : 0\nmodel name : Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n\
            cpu MHz : 3900.0\nphysical id : 0\ncore id : 0\nflags : sse2 avx avx2 fma avx512f\n\
            processor : 1\nmodel name : Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n\
            cpu MHz : 3900.0\nphysical id : 0\ncore id : 0\nflags : sse2 avx avx2 fma avx512f\n";
        let p = CpuPeak::from_cpuinfo(text, 2, None);
        assert_eq!(p.physical_cores, 1);
        assert_eq!(p.ghz, 2.5);
        assert_eq!(p.flops_per_cycle, 64);
        assert_eq!(p.gflops(), 160.0);
    }

    #[test]
    fn missing_topology_counts_logical_cpus_and_old_simd_is_slower() {
        let text = "processor : 0\nflags : sse sse2\ncpu MHz : 2000\n\
            processor : 1\nflags : sse sse2\ncpu MHz : 2000\n\
            processor : 2\nflags : sse sse2\ncpu MHz : 2000\n";
        let p = CpuPeak::from_cpuinfo(text, 64, None);
        assert_eq!(
            (p.physical_cores, p.cores_used, p.flops_per_cycle),
            (3, 3, 8)
        );
        assert_eq!(p.model, "unknown");
        assert_eq!(p.gflops(), 48.0);
        let arm = "processor : 0\nFeatures : fp asimd evtstrm\n";
        let p = CpuPeak::from_cpuinfo(arm, 1, Some(3.0));
        assert_eq!((p.flops_per_cycle, p.gflops()), (16, 48.0));
    }

    #[test]
    fn ghz_parsing_needs_the_unit() {
        assert_eq!(ghz_in_model_name("Intel CPU @ 3.00GHz"), Some(3.0));
        assert_eq!(ghz_in_model_name("AMD EPYC 7763 64-Core Processor"), None);
        assert_eq!(ghz_in_model_name("odd @ fast"), None);
    }
}
