//! The browsable report: `reports/index.html` and `reports/<slug>/index.html`, made from the same
//! Markdown as the READMEs (pulldown-cmark), self-contained (inline CSS, no script, font or file
//! from the network), links to READMEs pointed at the pages. `scripts/check-html.py` opens every
//! page in headless Chromium and fails on a broken image, link or console error.
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use std::fs;
use std::path::Path;

const CSS: &str = "
body{font-family:'DejaVu Sans',system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.45}
a{color:#0060a8}
nav{font-size:.9rem;margin-bottom:1rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem;display:block;overflow-x:auto}
th,td{border-top:1px solid #ccc;border-bottom:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{border-bottom:2px solid #333;border-top:2px solid #333}
td.pass{color:#0a6b2f;font-weight:600}
td.fail{color:#b00020;font-weight:700}
td.ng{color:#555}
span.ok{color:#0a6b2f;font-weight:600}
span.bad{color:#b00020;font-weight:700}
img{max-width:100%;height:auto}
h3 + p img{display:block;margin:.5rem 0;max-width:min(100%,44rem)}
code{background:#f3f3f3;padding:0 .2rem;border-radius:3px}
pre{background:#f3f3f3;padding:.5rem;overflow-x:auto}
";

/// HTML-escape text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A link target as the HTML pages want it: `x/README.md` becomes `x/index.html` (the page made
/// from it); other targets are kept.
fn retarget(dest: &str) -> String {
    if dest.contains("://") || dest.starts_with('#') {
        return dest.to_string();
    }
    match dest.strip_suffix("README.md") {
        Some(dir) => format!("{dir}index.html"),
        None => dest.to_string(),
    }
}

/// Markdown to an HTML fragment (tables on), README links retargeted, verdict cells classed.
pub fn markdown(md: &str) -> String {
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(|ev| match ev {
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: CowStr::from(retarget(&dest_url)), title, id })
        }
        e => e,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, parser);
    // The index's ✅/❌ as words: a browser without an emoji font shows boxes.
    out.replace("✅", "<span class=\"ok\">all pass</span>")
        .replace("❌", "<span class=\"bad\">FAIL</span>")
        .replace("<td>pass", "<td class=\"pass\">pass")
        .replace("<td>FAIL", "<td class=\"fail\">FAIL")
        .replace("<td>fail (not gated)", "<td class=\"ng\">fail (not gated)")
}

/// A whole page: `title`, a navigation line, and `body` (HTML).
pub fn page(title: &str, nav: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<nav>{nav}</nav>\n{body}\n</body>\n</html>\n",
        escape(title)
    )
}

/// `<dir>/index.html` from `<dir>/README.md` (a study's report folder), with the figure files
/// and the manifest linked.
pub fn write_study_page(dir: &Path) -> anyhow::Result<()> {
    let md = fs::read_to_string(dir.join("README.md"))?;
    let title = md.lines().next().unwrap_or("report").trim_start_matches('#').trim().to_string();
    let nav = "<a href=\"../index.html\">all reports</a> · <a href=\"claims.json\">claims.json</a> · <a href=\"manifest.json\">manifest.json</a> · <a href=\"claims.tex\">claims.tex</a> · <a href=\"README.md\">README.md</a>";
    super::write::write_atomic(&dir.join("index.html"), &page(&title, nav, &markdown(&md)))
}

/// `<out>/index.html` from the index Markdown `md`.
pub fn write_index_page(out: &Path, md: &str) -> anyhow::Result<()> {
    super::write::write_atomic(
        &out.join("index.html"),
        &page("Reports", "<a href=\"README.md\">README.md</a>", &markdown(md)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_links_become_pages_and_verdicts_get_classes() {
        let md = "# t\n\n[a](a/README.md) [x](https://arxiv.org/abs/1) ![f](figures/f.svg)\n\n| id | verdict |\n|---|---|\n| C1 | pass |\n| C2 | FAIL |\n";
        let h = markdown(md);
        assert!(h.contains("href=\"a/index.html\""), "{h}");
        assert!(h.contains("href=\"https://arxiv.org/abs/1\""));
        assert!(h.contains("<img src=\"figures/f.svg\""));
        assert!(h.contains("<td class=\"pass\">pass</td>") && h.contains("<td class=\"fail\">FAIL</td>"), "{h}");
        assert!(markdown("| ✅ 3/3 |\n|---|\n").contains("all pass"), "no emoji in the pages");
        let p = page("a <b>", "", &h);
        assert!(p.starts_with("<!DOCTYPE html>") && p.contains("<title>a &lt;b&gt;</title>"));
        assert!(!p.contains("http://") && !p.contains("<script"), "self-contained");
    }
}
