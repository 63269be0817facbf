//! The quick reading (`super::quick`) gives the tree kdl's document gives, spans and all, or
//! leaves the file to kdl.

use kdl::KdlDocument;
use proptest::prelude::*;

use std::path::Path;
use std::sync::Arc;

use crate::hotfile::{Diagnostics, lex, quick, tree};

use super::{KDL_READS, PATH};

/// Whether the quick reading of `text` is kdl's; `None` when it leaves `text` to kdl. A text it
/// takes skips the prescan, so the prescan must find nothing in it.
#[track_caller]
fn same_as_kdl(text: &str) -> Option<()> {
    let read = quick::parse(text)?;
    assert!(
        lex::prescan(text).mistakes.is_empty(),
        "the prescan refuses {text:?}, which the quick reading takes"
    );
    let kdl = KdlDocument::parse(text).unwrap_or_else(|e| panic!("kdl refuses {text:?}: {e:?}"));
    assert_eq!(
        read.blocks_unspanned(),
        tree::from_kdl(&kdl).blocks_unspanned(),
        "{text:?}"
    );
    Some(())
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
    assert!(
        same_as_kdl(&plan(20)).is_some(),
        "a plain Hotfile is read quickly"
    );
    // More top-level blocks than the prescan's brace limit, which counts open braces only.
    assert!(
        quick::parse(&plan(lex::MAX_BRACES + 10)).is_some(),
        "a large plain Hotfile is read quickly"
    );
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
            "task a {\n    stop signal=\"SIGTERM\"  timeout=\"5s\" /* x=\"y\" */\n}\n",
            true,
        ),
        ("/* c */ service s { }\n// end", true),
        ("task \"a\" { run x }", true),
        (
            "task \"a\" {\n    run \"a\" c // comment \"\\\n    ignore \"x\"\n}\n",
            true,
        ),
        // Forms the quick reading leaves to kdl, though they are sound.
        ("task a {\n    stop timeout = \"5s\"\n}\n", false),
        ("task a {\n    run \"a\" \\\n       c\n}\n", false),
        ("task a {\n    /- ignore \"x\"\n}\n", false),
        ("task a{\n}\n", false),
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
        if same_as_kdl(text).is_none() {
            assert!(!quick, "{text:?} is plain, yet left to kdl");
        }
    }
}

#[test]
fn a_text_the_prescan_refuses_is_left_to_kdl() {
    // The defect this guards: the quick reading runs before (and instead of) the prescan, so
    // it must refuse all the prescan refuses, or a mistake would go unreported.
    let nested = |open: &str, close: &str, depth: usize| {
        format!(
            "task \"a\" {{ run \"x\" }}\n{}{}",
            open.repeat(depth),
            close.repeat(depth)
        )
    };
    let braces = format!(
        "task \"a\" {{ run \"{}\" }}",
        "{".repeat(lex::MAX_BRACES + 1)
    );
    let cases = [
        "task/* c */ \"a\" { run \"x\" }".to_owned(),
        "task \"a\" {\n    run/* c */ \"x\"\n}\n".to_owned(),
        nested("a {\n", "}\n", lex::MAX_DEPTH + 1),
        nested("/*", "*/", lex::MAX_DEPTH + 1),
        braces,
    ];
    for text in &cases {
        assert!(!lex::prescan(text).mistakes.is_empty(), "{text:?}");
        assert!(quick::parse(text).is_none(), "{text:?} is read quickly");
    }
    // At the limits, both take them.
    for text in [
        nested("a {\n", "}\n", lex::MAX_DEPTH),
        nested("/*", "*/", lex::MAX_DEPTH),
    ] {
        assert!(same_as_kdl(&text).is_some(), "{text:?}");
    }
}

/// Pieces of Hotfiles, plain and not: joined at random, most texts are nonsense to KDL, some
/// are sound, and every one the quick reading takes must be kdl's tree.
const PIECES: &[&str] = &[
    "task",
    "service",
    "a",
    "n1",
    "x.y",
    "-x",
    "_a",
    "true",
    "nan",
    "1",
    "#true",
    "\"s\"",
    "\"\"",
    "\"a b\"",
    "\"é\"",
    "\"\\n\"",
    "\"\"\"",
    "#\"r\"#",
    "(t)",
    "=",
    "k=",
    "k=v",
    "k=\"v\"",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    ";",
    "{",
    "}",
    "/-",
    "//c\n",
    "/* c */",
    "/*/* c */*/",
    "/*",
    "\\",
    "/",
    "a/b",
    "\u{feff}",
    "\u{2028}",
    "\u{85}",
    "\"a\u{85}\"",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn every_text_the_quick_reading_takes_is_kdls(
        pieces in proptest::collection::vec(0..PIECES.len(), 0..24)
    ) {
        let text: String = pieces.iter().map(|&i| PIECES[i]).collect();
        let _ = same_as_kdl(&text);
    }
}

#[test]
fn the_repositorys_hotfiles_read_quickly_as_kdl_reads_them() {
    for file in ["Hotfile.example", "examples/axum-hello/Hotfile"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let text = std::fs::read_to_string(&path).expect("the repository's Hotfile");
        assert!(same_as_kdl(&text).is_some(), "{file} is left to kdl");
    }
}

/// The diagnostics of `text` as `parse` renders them, and how many times it read `text` with
/// kdl's parser.
fn rendered_and_kdl_reads(text: &str) -> (String, usize) {
    let before = KDL_READS.with(std::cell::Cell::get);
    let rendered = match crate::hotfile::parse(Path::new(PATH), text) {
        Ok(_) => String::new(),
        Err(diagnostics) => crate::report::render_plain(&diagnostics, 80),
    };
    (rendered, KDL_READS.with(std::cell::Cell::get) - before)
}

/// The diagnostics of `text` built from kdl's tree alone, as every mistake was before.
fn rendered_from_kdls_tree(text: &str) -> String {
    let doc = KdlDocument::parse(text).expect("kdl reads it");
    let source = Arc::new(text.to_owned());
    let name = crate::hotfile::display_name(Path::new(PATH));
    match crate::hotfile::build(
        &tree::from_kdl(&doc),
        PATH.into(),
        "/tmp/x".into(),
        (&name, &source),
        false,
    ) {
        Ok(_) => String::new(),
        Err(mistakes) => crate::report::render_plain(&Diagnostics::new(name, source, mistakes), 80),
    }
}

#[test]
fn a_hotfile_with_a_mistake_is_not_read_again_by_kdls_slow_parser() {
    // The defect: a Hotfile the quick reader takes was read again by kdl's parser whenever it
    // held any mistake, so a typo in a 500-node Hotfile cost ~290 M instructions instead of
    // ~10 M. kdl's tree is the quick reader's, so its mistakes read the same from either.
    let cases = [
        "taks \"x\" {\n    run \"true\"\n}\n".to_owned(),
        format!("{}task \"late\" {{\n    after \"n99\" \"n1\"\n    run \"x\"\n}}\n", plan(5)),
        "task \"a\" {\n    run \"x\"\n    stop signal=\"SIGNOPE\"\n}\nservice \"a\" {\n    run \"y\"\n}\n"
            .to_owned(),
        "task \"a\" {\n    watch \"/abs\" \"[\"\n    env A=\"1\" A=\"2\"\n}\n".to_owned(),
    ];
    for text in &cases {
        assert!(
            quick::parse(text).is_some(),
            "{text:?} is in the quick subset"
        );
        let (rendered, kdl_reads) = rendered_and_kdl_reads(text);
        assert!(!rendered.is_empty(), "{text:?} has mistakes");
        assert_eq!(kdl_reads, 0, "{text:?} was read again by kdl");
        assert_eq!(rendered, rendered_from_kdls_tree(text), "{text:?}");
    }
    // A block where none belongs shows the block's span, which is kdl's: still kdl's reading.
    let block = "task \"a\" {\n    run \"x\" {\n        y\n    }\n}\n";
    let (rendered, kdl_reads) = rendered_and_kdl_reads(block);
    assert_eq!(
        kdl_reads, 1,
        "an unexpected block is shown from kdl's reading"
    );
    assert_eq!(rendered, rendered_from_kdls_tree(block));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn mistakes_read_quickly_are_kdls(
        pieces in proptest::collection::vec(0..MISTAKES.len(), 1..12)
    ) {
        let text: String = pieces.iter().map(|&i| MISTAKES[i]).collect();
        if quick::parse(&text).is_some() {
            prop_assert_eq!(rendered_and_kdl_reads(&text).0, rendered_from_kdls_tree(&text));
        }
    }
}

/// Whole lines of Hotfiles, sound and not, joined at random into files with mistakes.
const MISTAKES: &[&str] = &[
    "task \"a\" {\n",
    "service \"s\" {\n",
    "task \"a\" {\n",
    "}\n",
    "    run \"x\"\n",
    "    run\n",
    "    watch \"src/**\" \"[\"\n",
    "    after \"a\" \"b\"\n",
    "    env K=\"v\" K=\"w\"\n",
    "    socket \"http\" \"localhost:3000\"\n",
    "    ready delay=\"soon\"\n",
    "    dir \"\"\n",
    "    lock \"cargo\"\n",
    "    bogus 1\n",
    "    stop signal=\"TERM\" timeout=\"5s\"\n",
    "defaults {\n    debounce \"x\"\n}\n",
    "root \"..\"\n",
    "    run \"y\" {\n    }\n",
];
