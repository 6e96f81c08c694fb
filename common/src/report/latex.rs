//! LaTeX fragments for papers: every table, and the claims table, as a booktabs `tabular` that
//! `\input{}` drops into a document with `\usepackage{booktabs}` (pdfLaTeX; no other package).
//! Text is escaped, and the Unicode the studies use (Greek letters, ≤, ±, ×, subscripts, ...)
//! becomes math-mode macros, so the fragment compiles with pdfLaTeX's default encoding.
use super::{Claim, Column, Table};

/// At most this many rows go into a table's fragment (the CSV has them all).
pub const MAX_ROWS: usize = 60;

/// The LaTeX for one character outside printable ASCII, if known.
fn unicode(c: char) -> Option<&'static str> {
    Some(match c {
        'α' => "$\\alpha$",
        'β' => "$\\beta$",
        'γ' => "$\\gamma$",
        'δ' => "$\\delta$",
        'ε' => "$\\varepsilon$",
        'ζ' => "$\\zeta$",
        'η' => "$\\eta$",
        'θ' => "$\\theta$",
        'κ' => "$\\kappa$",
        'λ' => "$\\lambda$",
        'μ' => "$\\mu$",
        'ν' => "$\\nu$",
        'ξ' => "$\\xi$",
        'π' => "$\\pi$",
        'ρ' => "$\\rho$",
        'σ' => "$\\sigma$",
        'τ' => "$\\tau$",
        'φ' => "$\\phi$",
        'χ' => "$\\chi$",
        'ψ' => "$\\psi$",
        'ω' => "$\\omega$",
        'Γ' => "$\\Gamma$",
        'Δ' => "$\\Delta$",
        'Θ' => "$\\Theta$",
        'Λ' => "$\\Lambda$",
        'Σ' => "$\\Sigma$",
        'Φ' => "$\\Phi$",
        'Ψ' => "$\\Psi$",
        'Ω' => "$\\Omega$",
        '≤' => "$\\le$",
        '≥' => "$\\ge$",
        '≈' => "$\\approx$",
        '≠' => "$\\neq$",
        '±' => "$\\pm$",
        '×' => "$\\times$",
        '·' => "$\\cdot$",
        '−' => "$-$",
        '–' => "--",
        '—' => "---",
        '→' => "$\\to$",
        '←' => "$\\leftarrow$",
        '∞' => "$\\infty$",
        '√' => "$\\surd$",
        '∝' => "$\\propto$",
        '∈' => "$\\in$",
        '∇' => "$\\nabla$",
        '∂' => "$\\partial$",
        '∑' => "$\\sum$",
        '‖' => "$\\|$",
        '⟨' => "$\\langle$",
        '⟩' => "$\\rangle$",
        '⊥' => "$\\perp$",
        '≪' => "$\\ll$",
        '≫' => "$\\gg$",
        '…' => "\\dots{}",
        '’' => "'",
        '‘' => "`",
        '“' => "``",
        '”' => "''",
        '°' => "$^\\circ$",
        '²' => "$^2$",
        '³' => "$^3$",
        '¹' => "$^1$",
        '⁰' => "$^0$",
        '⁴' => "$^4$",
        '⁵' => "$^5$",
        '⁶' => "$^6$",
        '⁷' => "$^7$",
        '⁸' => "$^8$",
        '⁹' => "$^9$",
        '⁻' => "$^-$",
        '₀' => "$_0$",
        '₁' => "$_1$",
        '₂' => "$_2$",
        '₃' => "$_3$",
        '₄' => "$_4$",
        '₅' => "$_5$",
        '₆' => "$_6$",
        '₇' => "$_7$",
        '₈' => "$_8$",
        '₉' => "$_9$",
        'ᵢ' => "$_i$",
        'ⱼ' => "$_j$",
        'ₖ' => "$_k$",
        'ₜ' => "$_t$",
        'ᵀ' => "$^\\top$",
        'ᵏ' => "$^k$",
        '\u{a0}' => "~",
        _ => return None,
    })
}

/// `s` as LaTeX text: the special characters escaped, known Unicode as macros, other non-ASCII
/// characters as `?` (pdfLaTeX would stop on them).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out += "\\textbackslash{}",
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out += "\\textasciitilde{}",
            '^' => out += "\\textasciicircum{}",
            '<' => out += "\\textless{}",
            '>' => out += "\\textgreater{}",
            '|' => out += "\\textbar{}",
            '`' => out += "\\`{}",
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            '\n' | '\t' => out.push(' '),
            c => out += unicode(c).unwrap_or("?"),
        }
    }
    out
}

/// A number for a table cell: integers plain, others to 4 significant digits, scientific as
/// `$1.23\times10^{-4}$`.
pub fn number(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "$\\infty$".into() } else { "$-\\infty$".into() };
    }
    if x == x.trunc() && x.abs() < 1e9 {
        return format!("{}", x as i64);
    }
    let a = x.abs();
    if (1e-3..1e5).contains(&a) {
        let s = format!("{:.*}", (3 - a.log10().floor() as i32).max(0) as usize, x);
        let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
        return s;
    }
    let e = a.log10().floor() as i32;
    let m = x / 10f64.powi(e);
    let (m, e) = if (m.abs() * 1000.0).round() >= 10000.0 { (m / 10.0, e + 1) } else { (m, e) };
    format!("${m:.3}\\times10^{{{e}}}$")
}

fn tabular(header: &[String], align: &str, rows: &[Vec<String>]) -> String {
    let mut s = format!("\\begin{{tabular}}{{{align}}}\n\\toprule\n{} \\\\\n\\midrule\n", header.join(" & "));
    for r in rows {
        s += &r.join(" & ");
        s += " \\\\\n";
    }
    s += "\\bottomrule\n\\end{tabular}\n";
    s
}

/// The booktabs fragment of `t` (at most [`MAX_ROWS`] rows; a comment says where the rest are).
pub fn table(t: &Table) -> String {
    let n = t.nrows();
    let header: Vec<String> = t.columns.iter().map(|(name, _)| escape(name)).collect();
    let align: String = t.columns.iter().map(|(_, c)| if matches!(c, Column::Str(_)) { 'l' } else { 'r' }).collect();
    let rows: Vec<Vec<String>> = (0..n.min(MAX_ROWS))
        .map(|i| {
            t.columns
                .iter()
                .map(|(_, c)| match c {
                    Column::F64(v) => number(v[i]),
                    Column::I64(v) => v[i].to_string(),
                    Column::Str(v) => escape(&v[i]),
                })
                .collect()
        })
        .collect();
    let mut s = format!(
        "% {}: {}\n% Needs \\usepackage{{booktabs}}. Generated; edit the study, not this file.\n",
        t.name,
        t.caption.replace('\n', " ")
    );
    if n > MAX_ROWS {
        s += &format!("% {MAX_ROWS} of {n} rows; all in tables/{}.csv\n", t.name);
    }
    s + &tabular(&header, &align, &rows)
}

/// The booktabs fragment of the claims: id, statement, paper location, measured, expected, verdict.
pub fn claims(claims: &[Claim]) -> String {
    let header: Vec<String> =
        ["id", "claim", "paper", "measured", "expected", "verdict"].iter().map(|s| s.to_string()).collect();
    let rows: Vec<Vec<String>> = claims
        .iter()
        .map(|c| {
            vec![
                escape(&c.id),
                escape(&c.statement),
                escape(&c.source),
                number(c.measured),
                escape(&c.expected.describe()),
                escape(c.verdict()),
            ]
        })
        .collect();
    let s = String::from("% The study's claims. Needs \\usepackage{booktabs}. Generated by the report pipeline.\n");
    s + &tabular(&header, "lp{0.38\\linewidth}p{0.12\\linewidth}rp{0.14\\linewidth}l", &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ClaimSpec, Expect};

    #[test]
    fn escapes_specials_and_maps_unicode() {
        assert_eq!(escape("a_b & 50% #1 {x}"), "a\\_b \\& 50\\% \\#1 \\{x\\}");
        assert_eq!(escape("η ≤ 2/λ"), "$\\eta$ $\\le$ 2/$\\lambda$");
        assert_eq!(escape("日"), "?");
        assert_eq!(number(0.000123), "$1.230\\times10^{-4}$");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(-3.0), "-3");
        assert_eq!(number(1234.5678), "1235");
        assert_eq!(number(0.012345), "0.01235");
    }

    pub(crate) fn sample() -> (Table, Vec<Claim>) {
        let t = Table::new("runs_η", "cap & more")
            .f64("lr η", vec![0.1, 1e-5])
            .i64("k", vec![1, 2])
            .str("name", vec!["a_1".into(), "≥ b".into()]);
        let c = vec![ClaimSpec::new("C1", "rate ≤ 2/η · λ_max", "Thm 1", Expect::at_most(2.0)).measured(1.0)];
        (t, c)
    }

    #[test]
    fn fragments_are_booktabs_tabulars() {
        let (t, c) = sample();
        let s = table(&t);
        assert!(s.contains("\\begin{tabular}{rrl}") && s.contains("\\toprule") && s.contains("\\bottomrule"));
        assert!(s.contains("lr $\\eta$ & k & name \\\\"), "{s}");
        assert!(s.contains("$1.000\\times10^{-5}$ & 2 & $\\ge$ b \\\\"), "{s}");
        let s = claims(&c);
        assert!(s.contains("C1 & rate $\\le$ 2/$\\eta$ $\\cdot$ $\\lambda$\\_max & Thm 1 & 1 &"), "{s}");
    }

    /// Compiles both fragments with pdfLaTeX when a TeX engine is installed (Debian:
    /// texlive-latex-recommended); skips with a message otherwise.
    #[test]
    fn fragments_compile_with_pdflatex() {
        let Ok(out) = std::process::Command::new("pdflatex").arg("--version").output() else {
            eprintln!("SKIPPED: pdflatex not found (apt-get install texlive-latex-recommended to run this test)");
            return;
        };
        assert!(out.status.success());
        let (t, c) = sample();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.tex"), table(&t)).unwrap();
        std::fs::write(dir.path().join("claims.tex"), claims(&c)).unwrap();
        std::fs::write(
            dir.path().join("doc.tex"),
            "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{t.tex}\n\n\\input{claims.tex}\n\\end{document}\n",
        )
        .unwrap();
        let run = std::process::Command::new("pdflatex")
            .args(["-interaction=nonstopmode", "-halt-on-error", "doc.tex"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(run.status.success(), "pdflatex failed:\n{}", String::from_utf8_lossy(&run.stdout));
        assert!(dir.path().join("doc.pdf").exists());
    }
}
