//! `repro new <slug>`: a new study crate from `studies/_template`, registered in the CLI.
use common::BadInput;
use std::fs;
use std::path::Path;

fn camel(slug: &str) -> String {
    slug.split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect()
}

/// Copy the template to `studies/<slug>/` under `root` (renaming crate, type and slug, dropping
/// the template's self-test), add its line to the registry and its dependency to `repro`.
pub fn new_study(root: &Path, slug: &str) -> anyhow::Result<()> {
    let ok = !slug.is_empty()
        && slug.split('-').all(|w| {
            !w.is_empty()
                && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && w.starts_with(|c: char| c.is_ascii_lowercase())
        });
    if !ok {
        return Err(BadInput::new(format!(
            "bad study slug `{slug}`: accepted lowercase words of letters and digits joined by `-` (e.g. sam-sharpness)"
        ))
        .into());
    }
    let (krate, ty) = (slug.replace('-', "_"), camel(slug));
    let (tpl, dst) = (root.join("studies/_template"), root.join("studies").join(slug));
    let registry = root.join("repro/src/registry.rs");
    let manifest = root.join("repro/Cargo.toml");
    if !tpl.is_dir() || !registry.is_file() {
        return Err(BadInput::new("run `repro new` from the repository root (studies/_template not found)").into());
    }
    if dst.exists() {
        return Err(BadInput::new(format!("studies/{slug} exists already")).into());
    }
    let rename = |s: &str| {
        s.replace("study_template", &krate)
            .replace("StudyTemplate", &ty)
            .replace("\"_template\"", &format!("\"{slug}\""))
    };
    fs::create_dir_all(dst.join("src"))?;
    fs::write(dst.join("Cargo.toml"), rename(&fs::read_to_string(tpl.join("Cargo.toml"))?))?;
    let lib = rename(&fs::read_to_string(tpl.join("src/lib.rs"))?);
    let lib = match (lib.find("// template-self-test:begin"), lib.find("// template-self-test:end")) {
        (Some(b), Some(e)) => format!("{}{}", &lib[..b], lib[e..].split_once('\n').map_or("", |x| x.1)),
        _ => lib,
    };
    let lib = lib.replace(
        "Study `_template`: the shape every study copies (`cargo repro new <slug>` starts from it). It\n//! is",
        &format!("Study `{slug}`: started from the template; replace the experiment below. It"),
    );
    fs::write(dst.join("src/lib.rs"), lib)?;
    let readme = fs::read_to_string(tpl.join("README.md"))?.replacen("# _template", &format!("# {slug}"), 1);
    fs::write(dst.join("README.md"), readme.replace("study_template", &krate))?;

    // Registry: insert in slug order inside for_each_study!.
    let reg = fs::read_to_string(&registry)?;
    let line = format!("            {krate}::{ty},\n");
    let start = reg.find("// studies: one line each").ok_or_else(|| anyhow::anyhow!("registry marker missing"))?;
    let body_start = start + reg[start..].find('\n').expect("newline") + 1;
    let body_end = body_start + reg[body_start..].find("        }\n").expect("end of list");
    let mut lines: Vec<String> = reg[body_start..body_end].lines().map(|l| format!("{l}\n")).collect();
    lines.push(line);
    lines.sort();
    fs::write(&registry, format!("{}{}{}", &reg[..body_start], lines.concat(), &reg[body_end..]))?;
    let man = fs::read_to_string(&manifest)?;
    let dep = format!("{krate} = {{ path = \"../studies/{slug}\" }}\n");
    let at = man.find("rayon.workspace").ok_or_else(|| anyhow::anyhow!("repro/Cargo.toml: anchor missing"))?;
    fs::write(&manifest, format!("{}{}{}", &man[..at], dep, &man[at..]))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaffolds_a_registered_study() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        fs::create_dir_all(t.join("studies/_template/src")).unwrap();
        fs::create_dir_all(t.join("repro/src")).unwrap();
        for f in [
            "studies/_template/Cargo.toml",
            "studies/_template/src/lib.rs",
            "studies/_template/README.md",
            "repro/src/registry.rs",
            "repro/Cargo.toml",
        ] {
            fs::copy(root.join(f), t.join(f)).unwrap();
        }
        new_study(t, "sam-sharpness").unwrap();
        let lib = fs::read_to_string(t.join("studies/sam-sharpness/src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct SamSharpness;") && lib.contains("\"sam-sharpness\""));
        assert!(!lib.contains("template-self-test") && !lib.contains("StudyTemplate"));
        assert!(
            fs::read_to_string(t.join("studies/sam-sharpness/Cargo.toml"))
                .unwrap()
                .contains("name = \"sam_sharpness\"")
        );
        let reg = fs::read_to_string(t.join("repro/src/registry.rs")).unwrap();
        let (a, b) = (reg.find("mfac::Mfac").unwrap(), reg.find("sam_sharpness::SamSharpness").unwrap());
        assert!(a < b && b < reg.find("sgd_stability_trace").unwrap(), "sorted: {reg}");
        assert!(
            fs::read_to_string(t.join("repro/Cargo.toml"))
                .unwrap()
                .contains("sam_sharpness = { path = \"../studies/sam-sharpness\" }")
        );
        assert!(new_study(t, "sam-sharpness").is_err());
        for bad in ["", "Sam", "a--b", "-a", "1a", "a_b"] {
            assert!(new_study(t, bad).is_err(), "{bad}");
        }
    }
}
