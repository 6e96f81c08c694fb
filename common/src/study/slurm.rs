//! Slurm batch scripts for one study: a job array with one task per shard, and a merge job that
//! depends on the whole array (`--dependency=afterok`), so the report is written once every shard
//! has succeeded. `repro slurm` fills [`Scripts`] (resources from `repro plan`'s sample) and writes
//! `array.sbatch`, `merge.sbatch` and `submit.sh`.
use anyhow::Result;
use std::path::{Path, PathBuf};

/// What the scripts run, and the resources each task asks for.
#[derive(Clone, Debug)]
pub struct Scripts {
    /// The study's slug.
    pub study: String,
    /// `quick` or `full`.
    pub profile: String,
    /// The root seeds: one task per shard and seed (task `t`: seed `t / shards`, shard
    /// `t % shards + 1`); the merge aggregates them when there are several.
    pub seeds: Vec<u64>,
    /// `--set key=value` overrides, passed on verbatim.
    pub sets: Vec<String>,
    /// Number of shards (array tasks).
    pub shards: usize,
    /// Cores per task (and threads of each shard).
    pub cpus: usize,
    /// Time limit of each task, minutes.
    pub minutes: u64,
    /// Memory per task, MB.
    pub mem_mb: u64,
    /// The `repro` binary (absolute; on the cluster's shared file system).
    pub exe: String,
    /// The repository root the jobs run in (absolute).
    pub root: String,
    /// Where the shards write (absolute, shared).
    pub work: String,
    /// Where the merged report goes (absolute).
    pub out: String,
    /// Extra `#SBATCH` options, one per line.
    pub extra: Vec<String>,
}

/// `s` as one single-quoted shell word.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Scripts {
    fn header(&self, name: &str, log: &str) -> String {
        let mut h = format!(
            "#!/usr/bin/env bash\n#SBATCH --job-name={name}\n#SBATCH --cpus-per-task={}\n#SBATCH --mem={}M\n\
             #SBATCH --time={}\n#SBATCH --chdir={}\n#SBATCH --output={}/logs/{log}\n",
            self.cpus, self.mem_mb, self.minutes, self.root, self.work
        );
        for e in &self.extra {
            h += &format!("#SBATCH {e}\n");
        }
        h
    }

    /// The job array: task `t` runs `reproduce --seed <seeds[t / N]> --shard <t % N + 1>/N`.
    pub fn array(&self) -> String {
        let n = self.shards;
        let tasks = n * self.seeds.len();
        let seeds: Vec<String> = self.seeds.iter().map(|s| s.to_string()).collect();
        let mut cmd = format!(
            "{} reproduce {} --profile {} --seed \"$seed\"",
            shell_quote(&self.exe),
            shell_quote(&self.study),
            self.profile
        );
        for s in &self.sets {
            cmd += &format!(" --set {}", shell_quote(s));
        }
        cmd += &format!(" --shard \"$shard/{n}\" --jobs {} --out {}", self.cpus, shell_quote(&self.work));
        let header = self.header(&format!("repro-{}", self.study), &format!("{}-%a.out", self.study));
        let header = header.replacen("#SBATCH --cpus", &format!("#SBATCH --array=0-{}\n#SBATCH --cpus", tasks - 1), 1);
        format!(
            "{header}set -euo pipefail\nseeds=({})\nt=$SLURM_ARRAY_TASK_ID\nseed=${{seeds[$((t / {n}))]}}\n\
             shard=$((t % {n} + 1))\nexec {cmd}\n",
            seeds.join(" ")
        )
    }

    /// The merge job: gathers the shards' cells and writes the report.
    pub fn merge(&self) -> String {
        let header = self.header(&format!("repro-{}-merge", self.study), &format!("{}-merge.out", self.study));
        format!(
            "{header}set -euo pipefail\nexec {} merge {} --out {} --jobs {}\n",
            shell_quote(&self.exe),
            shell_quote(&format!("{}/shards/{}", self.work, self.study)),
            shell_quote(&self.out),
            self.cpus
        )
    }

    /// Submits the array, then the merge with `--dependency=afterok` on it; prints both job ids.
    pub fn submit(&self) -> String {
        format!(
            "#!/usr/bin/env bash\n# Submit the shards of {} and the merge that waits for all of them.\nset -euo pipefail\n\
             cd \"$(dirname \"$0\")\"\nmkdir -p {}\narray=$(sbatch --parsable array.sbatch)\narray=${{array%%;*}}\n\
             merge=$(sbatch --parsable --dependency=afterok:$array merge.sbatch)\nmerge=${{merge%%;*}}\n\
             echo \"$array $merge\"\n",
            self.study,
            shell_quote(&format!("{}/logs", self.work)),
        )
    }

    /// Write the three scripts into `dir` (created); their paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut out = vec![];
        for (name, text) in
            [("array.sbatch", self.array()), ("merge.sbatch", self.merge()), ("submit.sh", self.submit())]
        {
            let p = dir.join(name);
            crate::report::write::write_atomic(&p, &text)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
            }
            out.push(p);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Scripts {
        Scripts {
            study: "demo-study".into(),
            profile: "full".into(),
            seeds: vec![7, 9],
            sets: vec!["n=3".into(), "name=it's".into()],
            shards: 4,
            cpus: 2,
            minutes: 40,
            mem_mb: 2048,
            exe: "/opt/my repo/target/release/repro".into(),
            root: "/opt/my repo".into(),
            work: "/scratch/w".into(),
            out: "/scratch/reports".into(),
            extra: vec!["--partition=debug".into()],
        }
    }

    #[test]
    fn scripts_say_what_they_run() {
        let s = demo();
        let a = s.array();
        assert!(a.contains("#SBATCH --array=0-7\n#SBATCH --cpus-per-task=2\n"), "{a}");
        assert!(
            a.contains("seeds=(7 9)\nt=$SLURM_ARRAY_TASK_ID\nseed=${seeds[$((t / 4))]}\nshard=$((t % 4 + 1))"),
            "{a}"
        );
        assert!(
            a.contains("#SBATCH --mem=2048M") && a.contains("#SBATCH --time=40") && a.contains("--partition=debug")
        );
        assert!(a.contains(
            "exec '/opt/my repo/target/release/repro' reproduce 'demo-study' --profile full --seed \"$seed\""
        ));
        assert!(a.contains("--set 'n=3' --set 'name=it'\\''s'"), "{a}");
        assert!(a.contains("--shard \"$shard/4\" --jobs 2 --out '/scratch/w'"), "{a}");
        let m = s.merge();
        assert!(m.contains("merge '/scratch/w/shards/demo-study' --out '/scratch/reports'") && !m.contains("--array"));
        let sub = s.submit();
        assert!(sub.contains("--dependency=afterok:$array merge.sbatch"), "{sub}");
    }

    /// The scripts are valid bash (`bash -n`), where bash exists.
    #[test]
    fn scripts_parse_as_bash() {
        let dir = tempfile::tempdir().unwrap();
        let files = demo().write(dir.path()).unwrap();
        for f in files {
            match std::process::Command::new("bash").arg("-n").arg(&f).output() {
                Ok(o) => assert!(o.status.success(), "{}: {}", f.display(), String::from_utf8_lossy(&o.stderr)),
                Err(_) => return,
            }
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
