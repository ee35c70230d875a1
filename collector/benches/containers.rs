//! Container collection benchmark (not a test): one pass of the Docker
//! input (list, inspect and one-shot stats for every container,
//! concurrently) with 1, 20 and 100 running containers.
//!
//!   cargo bench -p dozor-collector --bench containers
//!
//! Needs the Docker Engine and Debian's busybox-static; builds a FROM
//! scratch image and removes every container it starts. Best of 5 passes
//! per size; the 1-container pass is the baseline for the per-container
//! cost ratio.

use dozor_collector::docker::DockerInput;
use std::process::Command;
use std::time::Instant;

const IMAGE: &str = "dozor-bench/busybox:1";

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = docker(&["ps", "-aq", "--filter", "label=dozor.bench=1"]);
        let ids: Vec<&str> = ids.lines().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            docker(&args);
        }
        docker(&["rmi", IMAGE]);
    }
}

#[tokio::main]
async fn main() {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", ctx.path().join("busybox")).expect("busybox-static is installed");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n",
    )
    .unwrap();
    docker(&[
        "build",
        "-q",
        "-t",
        IMAGE,
        &ctx.path().display().to_string(),
    ]);
    let _cleanup = Cleanup;
    let mut running = 0;
    let mut base = None;
    let mut input = DockerInput::default();
    println!("containers  pass (best of 5)  per container  vs 1 container");
    for n in [1usize, 20, 100] {
        while running < n {
            docker(&[
                "run",
                "-d",
                "--label",
                "dozor.bench=1",
                IMAGE,
                "sleep",
                "3600",
            ]);
            running += 1;
        }
        let mut best = f64::MAX;
        let mut series = 0;
        for _ in 0..5 {
            let t = Instant::now();
            series = input.collect(0).await.len();
            best = best.min(t.elapsed().as_secs_f64());
        }
        // Other containers on the machine are counted too; say how many.
        let all = docker(&["ps", "-aq"]).lines().count();
        let per = best / all as f64;
        let ratio = per / *base.get_or_insert(per);
        println!(
            "{n:>10}  {:>10.1} ms  {:>10.2} ms  {ratio:>6.2}x   ({all} containers on the host, {series} series)",
            best * 1e3,
            per * 1e3
        );
    }
}
