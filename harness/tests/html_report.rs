//! report.html as a person sees it: a run against the embedded server with a fault, its HTML
//! loaded in headless Chromium, and assertions on the DOM the browser built (not on the string
//! we wrote: a stray `</td>` or an unescaped `<script>` would change what the browser builds).
//!
//! Without a Chromium on the PATH the browser test prints a note and passes, so that `cargo test`
//! passes on a fresh machine; `P2MLS_REQUIRE_BROWSER=1` (set by `.ci/run`, which installs
//! Chromium) makes it fail instead. `P2MLS_HTML_SCREENSHOT=FILE.png` also saves a screenshot of
//! the rendered page, to look at.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use p2mls::check::Verdict;
use p2mls::report::Report;
use p2mls::RunArgs;
use p2mls_reference_server::faults::Fault;

mod common;
use common::certify;

/// A string a hostile target could put in a reason or a body: it closes the cell and the table,
/// opens a script and an image with a handler.
const HOSTILE: &str =
    "</td></tr></table><script>document.title='pwned'</script><img src=x onerror=alert(1)> & \"q\"";

/// A run with `no-auth`: the auth checks fail, the TLS and ID-Cert checks pass. One failing
/// check gets the hostile string as its reason and response body.
async fn faulty_report() -> Report {
    let args = RunArgs {
        embedded_faults: vec![Fault::NoAuth],
        quiet: true,
        only: vec!["*.auth.*".into(), "tls.*".into(), "idcert.*".into()],
        ..Default::default()
    };
    let (mut report, code) = certify(args).await;
    assert_eq!(code, 1, "the no-auth fault must fail checks");
    let victim = report
        .checks
        .iter_mut()
        .find(|c| c.verdict == Verdict::Fail && c.evidence.is_some())
        .expect("a failing check with evidence");
    victim.reason = format!("hostile reason {HOSTILE}");
    if let Some(x) = victim
        .evidence
        .as_mut()
        .and_then(|e| e.exchanges.first_mut())
    {
        x.body = format!("hostile body {HOSTILE}");
    }
    report
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p2mls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn hostile_strings_in_a_report_stay_text() {
    let report = faulty_report().await;
    let html = p2mls::report::html::render(&report);
    assert!(!html.contains("<script"), "a script element got through");
    assert!(!html.contains("<img"), "an img element got through");
    assert!(!html.contains("</td></tr></table><"));
    assert!(html.contains(
        "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"
    ));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;"));
    // Every opened row and cell is closed: the hostile string closed none of them.
    assert_eq!(html.matches("<tr").count(), html.matches("</tr>").count());
    assert_eq!(html.matches("<td").count(), html.matches("</td>").count());
    assert_eq!(
        html.matches("<table").count(),
        html.matches("</table>").count()
    );
}

#[tokio::test]
async fn run_writes_report_html_beside_the_other_reports() {
    let report = faulty_report().await;
    let dir = temp_dir("html-files");
    report.write(&dir).expect("reports written");
    for file in ["report.json", "junit.xml", "report.md", "report.html"] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Self-contained: no external asset, no script.
    for needle in ["<link", "<script", "src=\"http", "href=\"http", "@import"] {
        assert!(!html.contains(needle), "{needle} in report.html");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Chromium, from `P2MLS_CHROMIUM` or the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("P2MLS_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `page` with `extra` arguments: (stdout, stderr). Killed after 30 s,
/// so a hung browser fails the test instead of holding it; an injected `alert()` hangs it so.
fn headless(browser: &Path, profile: &Path, extra: &[String], page: &Path) -> (String, String) {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Read both pipes on threads so a full pipe cannot stall the browser.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).map(|_| s)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 30 s (a script dialog blocks it)");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().expect("reader").expect("stdout");
    let stderr = err.join().expect("reader").expect("stderr");
    assert!(status.success(), "chromium failed ({status}): {stderr}");
    (stdout, stderr)
}

#[tokio::test]
async fn headless_chromium_renders_the_summary_and_the_failing_checks() {
    let Some(browser) = chromium() else {
        if std::env::var("P2MLS_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("P2MLS_REQUIRE_BROWSER=1 but no chromium on the PATH (nor P2MLS_CHROMIUM)");
        }
        // Straight to stderr: the test harness would capture eprintln! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "note: no chromium on the PATH: report.html not checked in a browser \
             (set P2MLS_REQUIRE_BROWSER=1 to fail instead)"
        );
        return;
    };
    let report = faulty_report().await;
    let dir = temp_dir("html-browser");
    report.write(&dir).expect("reports written");
    let page = dir.join("report.html");
    let profile = dir.join("profile");

    let (dom, log) = headless(&browser, &profile, &["--dump-dom".into()], &page);
    // The browser's own serialisation of what it built.
    assert!(dom.contains("<h1>p2mls conformance report</h1>"), "{dom}");
    let s = &report.summary;
    for (verdict, count) in [
        ("pass", s.pass),
        ("fail", s.fail),
        ("non-strict", s.non_strict),
        ("unsupported", s.unsupported),
        ("error", s.error),
    ] {
        let item = format!(
            "data-verdict=\"{verdict}\"><span class=\"count\">{count}</span> {verdict}</li>"
        );
        assert!(dom.contains(&item), "summary lacks {item}");
    }
    assert!(s.fail > 0 && s.pass > 0, "{s:?}");
    // One row per check, each marked and labelled with its verdict.
    for c in &report.checks {
        let row = format!(
            "<tr id=\"check-{}\" class=\"v-{v}\" data-verdict=\"{v}\"><td><code>{}</code></td>",
            c.def.id,
            c.def.id,
            v = c.verdict.as_str()
        );
        assert!(dom.contains(&row), "no row {row}");
    }
    assert_eq!(
        dom.matches("<tr id=\"check-").count(),
        report.checks.len(),
        "rows in the DOM"
    );
    let failing = report
        .checks
        .iter()
        .find(|c| c.verdict == Verdict::Fail)
        .expect("a failing check");
    // Its row is marked fail and says so in text, not only in colour.
    let row = format!(
        "<tr id=\"check-{id}\" class=\"v-fail\" data-verdict=\"fail\"><td><code>{id}</code></td><td>{}</td><td><span class=\"verdict v-fail\">fail</span></td>",
        failing.def.level.as_str(),
        id = failing.def.id
    );
    assert!(dom.contains(&row), "no labelled fail row {row}");
    assert!(
        dom.contains(&format!("<details id=\"evidence-{}\"", failing.def.id)),
        "no evidence block for {}",
        failing.def.id
    );
    // The timeline: a bar per check on one time axis, and checks that overlapped (they run
    // concurrently).
    assert!(
        dom.contains("<h2 id=\"timeline\">Timeline</h2>"),
        "no timeline"
    );
    assert_eq!(
        dom.matches("<div class=\"tl-row\" data-check=").count(),
        report.checks.len(),
        "timeline rows"
    );
    let overlapping = report.checks.iter().any(|a| {
        report.checks.iter().any(|b| {
            a.def.id != b.def.id && b.started >= a.started && b.started < a.started + a.duration
        })
    });
    assert!(overlapping, "no two checks ran at the same time");
    assert!(dom.contains("class=\"tl-bar v-fail\""), "no failing bar");
    assert!(dom.contains("Root causes"));
    assert!(dom.contains("<pre class=\"request\">curl "), "no curl line");
    // The hostile strings arrived as text: the browser built no script or img, and the title is
    // the report's.
    assert!(!dom.contains("<script"), "a script element was built");
    assert!(!dom.contains("<img"), "an img element was built");
    assert!(dom.contains("&lt;script&gt;document.title="));
    assert!(dom.contains("<title>p2mls conformance report: embedded reference server</title>"));
    // No script ran, so none can have failed; and the page loaded without console errors.
    for bad in ["Uncaught", "CONSOLE("] {
        assert!(!log.contains(bad), "browser log has {bad}: {log}");
    }

    if let Some(png) = std::env::var_os("P2MLS_HTML_SCREENSHOT") {
        let png = PathBuf::from(png);
        headless(
            &browser,
            &profile,
            &[
                format!("--screenshot={}", png.display()),
                "--window-size=1280,4000".into(),
                "--hide-scrollbars".into(),
            ],
            &page,
        );
        let bytes = std::fs::read(&png).expect("screenshot written");
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
        eprintln!("screenshot: {} (page: {})", png.display(), page.display());
        return;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
