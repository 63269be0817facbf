//! The `503` page hot answers with while no instance serves: what is happening, in words, and
//! hot.js, which turns it into the app once an instance is ready.

use std::fmt::Write;
use std::net::SocketAddr;

use super::state::View;

/// HTML-escapes build output and names (the page must never run what a build printed).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn unserved(service: &str, endpoint: SocketAddr, view: &View, now_ms: u64) -> String {
    let (headline, lines) = match &view.stale {
        Some(stale) if stale.status == "running" || stale.status == "is starting" => (
            format!(
                "building: {} {} for {}s",
                stale.node,
                stale.status,
                now_ms.saturating_sub(stale.since_ms) / 1000
            ),
            &stale.lines,
        ),
        Some(stale) => (format!("{} {}", stale.node, stale.status), &stale.lines),
        None => ("starting".to_owned(), &Vec::new()),
    };
    let mut output = String::new();
    for line in lines {
        let _ = writeln!(output, "{}", escape(line));
    }
    // Always there, hidden while empty: hot.js fills it as the node's output changes.
    let hidden = if output.is_empty() { " hidden" } else { "" };
    let output = format!("<pre id=\"hot-output\"{hidden}>{output}</pre>");
    format!(
        "<!doctype html>\n<html data-hot-unserved>\n<head><meta charset=\"utf-8\">\
         <title>{service}: nothing serves yet</title>\
         <style>body{{font:15px/1.5 system-ui,sans-serif;margin:3em auto;max-width:50em;padding:0 1em;color:#222}}\
         pre{{background:#f4f0e8;padding:1em;overflow:auto;white-space:pre-wrap}}\
         small{{color:#666}}</style></head>\n<body>\n\
         <h1>{service}: no instance serves</h1>\n\
         <p id=\"hot-status\">{headline}</p>\n{output}\n\
         <p><small>hot answers this address until a new instance is ready; this page then \
         turns into the app by itself.</small></p>\n\
         <script src=\"http://{endpoint}/hot.js\"></script>\n</body>\n</html>\n",
        service = escape(service),
        headline = escape(&headline),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser::state::Stale;

    #[test]
    fn the_unserved_page_escapes_build_output() {
        let view = View {
            stale: Some(Stale {
                node: "te<st".into(),
                status: "failed (exit status 1)".into(),
                lines: vec!["<script>alert('x')</script> & more".into()],
                since_ms: 0,
            }),
            ..View::default()
        };
        let html = unserved("web", "127.0.0.1:35729".parse().unwrap(), &view, 5000);
        assert!(html.contains("te&lt;st failed (exit status 1)"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
        assert_eq!(html.matches("<script").count(), 1, "only hot.js: {html}");
        assert!(html.contains(r#"<script src="http://127.0.0.1:35729/hot.js"></script>"#));
    }

    #[test]
    fn the_unserved_page_says_how_long_a_build_runs() {
        let view = View {
            stale: Some(Stale {
                node: "build".into(),
                status: "running".into(),
                lines: Vec::new(),
                since_ms: 1000,
            }),
            ..View::default()
        };
        let html = unserved("web", "127.0.0.1:35729".parse().unwrap(), &view, 13_500);
        assert!(html.contains("building: build running for 12s"), "{html}");
    }
}
