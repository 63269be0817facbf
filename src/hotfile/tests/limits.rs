//! Odd, huge and hostile input: bounded time, bounded output, no panic, no stack overflow.

use super::*;

#[test]
fn absurd_input_is_refused() {
    let deep = "a {".repeat(100_000);
    check(
        &deep,
        &["blocks are nested too deeply (the limit is 32 levels)"],
    );
    let comments = "/*".repeat(100_000);
    check(
        &comments,
        &["comments are nested too deeply (the limit is 32 levels)"],
    );
    // At the limit it still parses, on a test thread's small stack.
    let ok_deep = format!("{}{}", "a {".repeat(32), "}".repeat(32));
    check(&ok_deep, &["unknown node `a` at the top level"]);

    let big = format!("// {}\n", "x".repeat(2 << 20));
    let diags = parse(Path::new(PATH), &big).unwrap_err();
    assert_eq!(
        diags.messages(),
        ["the Hotfile /tmp/x/Hotfile is too large: 2097156 bytes (the limit is 1048576)"]
    );
}

#[test]
fn never_panics_on_odd_input() {
    for input in [
        "\"",
        "#",
        "#\"",
        "\"\"\"",
        "/*",
        "*/",
        "{",
        "}",
        "a/",
        "/",
        "\\",
        "task \"é\" { run \"ü\" watch é/x }",
        "task \"a\" { run \"x\"; env \"\"=\"1\" }",
        "(t)task (u)\"a\" { (v)run \"x\" }",
        "task \"a\" { run \"x\\u{0}\" }",
        "service \"s\" { run \"x\"; socket \"\" \"[::]:1\" }",
    ] {
        let _ = parse(Path::new(PATH), input);
    }
}

#[test]
fn never_panics_on_truncated_or_mangled_files() {
    let text =
        format!("{CONTRACT}\ndefaults {{ ignore \"t/**\"; env A=#\"x\"#; debounce \"1s\" }}\n");
    let cuts = text.char_indices().map(|(i, _)| i);
    for i in cuts {
        let _ = parse(Path::new(PATH), &text[..i]);
        for insert in ["/", "*", "\"", "#", "{", "}", "\\", "é", "/-", "="] {
            let mangled = format!("{}{insert}{}", &text[..i], &text[i..]);
            let _ = parse(Path::new(PATH), &mangled);
        }
    }
}

/// Every span of a document, depth first, for comparing two parses.
fn spans(doc: &kdl::KdlDocument, out: &mut Vec<(usize, usize)>) {
    for node in doc.nodes() {
        out.push((node.span().offset(), node.span().len()));
        out.push((node.name().span().offset(), node.name().span().len()));
        for entry in node.entries() {
            out.push((entry.span().offset(), entry.span().len()));
        }
        if let Some(children) = node.children() {
            spans(children, out);
        }
    }
}

#[test]
fn a_large_file_parsed_in_pieces_has_the_spans_of_a_whole_parse() {
    let mut text = String::from("defaults {\n    debounce \"20ms\"\n}\n");
    for i in 0..400 {
        text.push_str(&format!(
            "task \"n{i}\" {{\n    watch \"src/**/*.rs\"\n    run \"echo {i}\" \"x\"\n    env A=\"{i}\"\n}}\n"
        ));
    }
    assert!(text.len() > super::PARALLEL_FROM);
    let scan = super::lex::prescan(&text);
    let pieces = super::parse_kdl(&text, &scan.node_ends).unwrap();
    let whole = kdl::KdlDocument::parse(&text).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    spans(&pieces, &mut a);
    spans(&whole, &mut b);
    assert_eq!(a, b);
    assert_eq!(pieces.nodes().len(), 401);
    // A mistake near the end of a large file points at the right line.
    text.push_str("task \"last\" {\n    after \"nope\"\n    run \"x\"\n}\n");
    let messages = parse(Path::new("/tmp/x/Hotfile"), &text).unwrap_err();
    let rendered = crate::report::render_plain(&messages, 80);
    assert!(rendered.contains("Hotfile:2005:11"), "{rendered}");
}

#[test]
fn a_syntax_error_in_a_large_file_reads_as_in_a_whole_parse() {
    let mut text = String::new();
    for i in 0..400 {
        text.push_str(&format!("task \"n{i}\" {{\n    run \"echo {i}\"\n}}\n"));
    }
    text.push_str("task \"bad\" {\n    run \"x\n}\n");
    let rendered =
        crate::report::render_plain(&parse(Path::new("/tmp/x/Hotfile"), &text).unwrap_err(), 80);
    assert!(rendered.contains("Hotfile:1202:"), "{rendered}");
}

fn ring(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "task \"t{i}\" {{\n    after \"t{}\"\n    run \"x\"\n}}\n",
                (i + 1) % n
            )
        })
        .collect()
}

/// A 10,000-node cycle took 12.5 s to check and printed 2.4 MB: every node of the loop was
/// named and labelled, and finding the loop was quadratic.
#[test]
fn cycle_of_ten_thousand_nodes_is_one_short_report() {
    let input = ring(10_000);
    let text = render(&input);
    assert!(text.len() < 4_000, "{} bytes:\n{text}", text.len());
    let diags = parse(Path::new(PATH), &input).unwrap_err();
    assert_eq!(
        diags.messages(),
        [
            "`after` forms a cycle: t0 -> t1 -> t2 -> t3 -> t4 -> t5 -> t6 -> t7 -> … and 9992 more -> t0"
        ]
    );
    assert_eq!(text.matches(" is after ").count(), 8, "{text}");
}

/// 2,000 mistakes on one 15 KB line rendered the line 2,000 times: 59 MB of output.
#[test]
fn many_mistakes_on_one_line_render_in_bounded_size() {
    let names: Vec<String> = (0..2000).map(|i| format!("\"z{i}\"")).collect();
    let input = format!("task \"a\" {{ run \"x\"; after {} }}", names.join(" "));
    let text = render(&input);
    assert!(
        text.contains("has 2000 mistakes (the first 20 are shown)"),
        "{text}"
    );
    assert!(
        text.len() < 40 * input.len(),
        "{} bytes for {} of input",
        text.len(),
        input.len()
    );
}

/// petgraph's `tarjan_scc` recurses once per node of a chain: a long `after` chain overflowed
/// the stack (a test thread's 2 MB at 10,000 nodes; hot's main thread not far beyond).
#[test]
fn long_after_chain_does_not_overflow_the_stack() {
    let n = 30_000;
    let text: String = (0..n)
        .map(|i| {
            let after = if i + 1 < n {
                format!("after t{};", i + 1)
            } else {
                String::new()
            };
            format!("task t{i}{{{after}run x}}\n")
        })
        .collect();
    assert!(text.len() < MAX_BYTES);
    assert_eq!(ok(&text).nodes.len(), n);
}

/// Found by `tests/fuzz.rs`: miette writes columns and underline lengths as format widths,
/// which panic past 65,535 ("Formatting argument out of range"), so a mistake far right on a
/// long line, or under a long string, crashed `hot check`.
#[test]
fn mistake_far_right_on_a_long_line_renders() {
    let far = format!("{}nope \"x\"\n", " ".repeat(70_000));
    let text = render(&far);
    assert!(
        text.contains("unknown node `nope`") && text.contains("(at line 1, column 70001; too far"),
        "{}",
        &text[..text.len().min(2000)]
    );
    let long = format!(
        "task \"a\" {{ run \"x\"; watch \"[{}\" }}\n",
        "x".repeat(70_000)
    );
    let text = render(&long);
    assert!(
        text.contains("invalid glob"),
        "{}",
        &text[..text.len().min(2000)]
    );
}

/// Found by `tests/fuzz.rs`: after a syntax error the KDL parser resumes where the prescan's
/// view of strings does not hold, and recursed once per `{`: this 55 KB file aborted
/// `hot check` (also in release) with a stack overflow.
#[test]
fn braces_inside_broken_strings_cannot_overflow_the_stack() {
    let text = format!("a \"{}\n", "task \"n\" { ".repeat(5000));
    assert!(text.len() > 50_000);
    let diags = parse(Path::new(PATH), &text).unwrap_err();
    assert_eq!(
        diags.messages(),
        ["braces (counted in strings too) are nested too deeply (the limit is 128 levels)"]
    );
    // Braces that close are fine however many there are.
    let balanced = format!("task \"a\" {{ run \"{}\" }}\n", "{ x } ".repeat(5000));
    ok(&balanced);
}
