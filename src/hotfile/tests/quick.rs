//! The quick reading (`super::quick`) gives kdl's document, spans and all, or leaves the file
//! to kdl.

use kdl::{KdlDocument, KdlNode};

/// Everything `syntax`, `spans` and the mistakes read of a document, depth first.
fn facts(doc: &KdlDocument) -> Vec<String> {
    fn walk(node: &KdlNode, out: &mut Vec<String>) {
        out.push(format!(
            "node {:?} {:?} name {:?}",
            node.name().value(),
            node.span(),
            node.name().span()
        ));
        for entry in node.entries() {
            out.push(format!(
                "entry {:?} {:?} {:?} {:?} {:?}",
                entry.name().map(|n| (n.value(), n.span())),
                entry.value(),
                entry.span(),
                entry.format().map(|f| &f.value_repr),
                entry.ty(),
            ));
        }
        if let Some(children) = node.children() {
            out.push("{".into());
            for child in children.nodes() {
                walk(child, out);
            }
            out.push("}".into());
        }
    }
    let mut out = Vec::new();
    for n in doc.nodes() {
        walk(n, &mut out);
    }
    out
}

/// The bench's 500-node plan, in small.
fn plan(nodes: usize) -> String {
    let mut text = String::from("defaults {\n    ignore \"**/*.tmp\"\n    debounce \"20ms\"\n}\n");
    for i in 0..nodes {
        let kind = if i % 5 == 4 { "service" } else { "task" };
        text.push_str(&format!(
            "{kind} \"n{i}\" {{\n    watch \"crate{i}/src/**/*.rs\" \"crate{i}/Cargo.toml\"\n"
        ));
        if i > 0 {
            text.push_str(&format!("    after \"n{}\"\n", i - 1));
        }
        text.push_str(&format!(
            "    run \"cargo build -p crate{i}\"\n    env RUST_LOG=\"info\" N=\"{i}\"\n"
        ));
        if kind == "service" {
            text.push_str("    socket \"http\" \"127.0.0.1:0\"\n    ready delay=\"100ms\"\n");
        }
        text.push_str("}\n");
    }
    text
}

#[test]
fn a_sound_hotfile_is_not_read_by_kdls_slow_parser() {
    // The defect: every Hotfile went through kdl's parser, ~4,000 instructions a byte, so a
    // 500-node `hot ci --dry-run` took 30 ms. A plain Hotfile is read quickly, to kdl's tree.
    let text = plan(20);
    let quick = crate::hotfile::quick::parse(&text).expect("a plain Hotfile is read quickly");
    assert_eq!(facts(&quick), facts(&KdlDocument::parse(&text).unwrap()));
}

#[test]
fn the_quick_reading_is_kdls_or_none() {
    // (text, whether the quick reading must take it). Whatever it takes, kdl takes too, to the
    // same tree: it never accepts a file kdl refuses.
    let cases = [
        (
            "task \"a\" {\n    watch \"src/**/*.rs\" foo  bar\n    run \"x\"; dir y\n}\n",
            true,
        ),
        (
            "task a {\n    stop signal=\"SIGTERM\"  timeout = \"5s\" /- x=\"y\"\n}\n",
            true,
        ),
        ("/* c */ service s { }\n// end", true),
        ("task \"a\" { run x }", true),
        (
            "task \"a\" {\n    run \"a\" \\\n       c // comment\n    /- ignore \"x\"\n}\n",
            true,
        ),
        (
            "task \"a\" {\n    run \"x\" {\n        deep { deeper \"é\" }\n    }\n}\n",
            true,
        ),
        ("task \"a\" {\n\trun\t\"x\"\r\n}\r\n", true),
        ("", true),
        // Values only kdl's reading is trusted for, and syntax errors: left to kdl.
        ("task \"a\" {\n    env A=#true B=1.5e3\n}\n", false),
        ("task \"a\" {\n    run \"a\\nb\" #\"raw\"#\n}\n", false),
        (
            "task \"a\" {\n    run \"\"\"\n    multi\n    \"\"\"\n}\n",
            false,
        ),
        ("task \"a\" {\n    run (t)\"typed\"\n}\n", false),
        ("(t)task \"a\" { }", false),
        ("task \"a\" {\n    \"quoted key\"=\"v\"\n}\n", false),
        ("task \"a\" {\n    run #null \"\\u{1F600}\"\n}\n", false),
        ("task \"a\" {\n    run \"x\"\n", false),
        ("task \"a\" { ; }", false),
        ("task \"a\" {\n    run true\n}\n", false),
        ("task \"a\" { run \"x\" } task \"b\" {}", false),
        ("\u{FEFF}task \"a\" { run \"x\" }", false),
    ];
    for (text, quick) in cases {
        let kdl = KdlDocument::parse(text);
        match crate::hotfile::quick::parse(text) {
            Some(read) => {
                let kdl = kdl.unwrap_or_else(|e| panic!("kdl refuses {text:?}: {e:?}"));
                assert_eq!(facts(&read), facts(&kdl), "{text:?}");
            }
            None => assert!(!quick, "{text:?} is plain, yet left to kdl"),
        }
    }
}
