//! `gate`: the form, and every way to get it wrong.

use super::*;

const S: &str = r#"socket "http" "127.0.0.1:3000"; ready delay="1s""#;

#[test]
fn a_gate_is_an_edge_that_holds_back_the_promotion_only() {
    let p = ok(&format!(
        r#"
task "clippy" {{ run "c" }}
task "test" {{ after "clippy"; run "t" }}
task "build" {{ run "b" }}
service "web" {{ after "build"; gate "test"; gate "clippy" "test"; run "w"; {S} }}
"#
    ));
    let web = &p.nodes[3];
    // Every edge is in `after` (order, staleness, cycles); `gates` says which gate.
    assert_eq!(web.after, [NodeId(2), NodeId(1), NodeId(0)]);
    assert_eq!(web.gates, [NodeId(1), NodeId(0)]);
    assert!(p.nodes[1].gates.is_empty());
}

#[test]
fn gate_mistakes() {
    let tasks = r#"task "test" { run "t" }; task "build" { run "b" }"#;
    check(
        &format!(r#"{tasks}; service "web" {{ after "build"; gate "tset"; run "w"; {S} }}"#),
        &["`gate` names no node called `tset`"],
    );
    check(
        &format!(r#"{tasks}; service "web" {{ after "build" "test"; gate "test"; run "w"; {S} }}"#),
        &["`test` is named by both `after` and `gate`"],
    );
    check(
        &format!(r#"{tasks}; task "t2" {{ after "build"; gate "test"; run "x" }}"#),
        &["`gate` is only allowed in a `service`"],
    );
    check(
        &format!(r#"{tasks}; service "web" {{ gate "test"; run "w"; ready delay="1s" }}"#),
        &["`gate` needs a `socket` in the same service"],
    );
    check(
        &format!(r#"{tasks}; service "web" {{ gate "test"; run "w"; socket "h" "127.0.0.1:1" }}"#),
        &["`gate` needs `ready` in the same service"],
    );
    check(
        &format!(r#"{tasks}; service "web" {{ gate; run "w"; {S} }}"#),
        &["`gate` needs at least one name"],
    );
    // The start waits for `test` anyway, through `build`: the gate would hold nothing back.
    check(
        &format!(
            r#"task "test" {{ run "t" }}; task "build" {{ after "test"; run "b" }}
service "web" {{ after "build"; gate "test"; run "w"; {S} }}"#
        ),
        &["`test` gates nothing: `build` comes after it, and `web` starts after `build`"],
    );
    // A gate on what comes after the service is a cycle like any other.
    check(
        &format!(
            r#"service "web" {{ gate "smoke"; run "w"; {S} }}; task "smoke" {{ after "web"; run "s" }}"#
        ),
        &["`after` forms a cycle: web -> smoke -> web"],
    );
}

#[test]
fn a_gate_mistake_shows_where() {
    let text = render(&format!(
        "task \"build\" {{ run \"b\" }}\nservice \"web\" {{\n    after \"build\"\n    gate \"tests\"\n    run \"w\"; {S}\n}}\n"
    ));
    assert!(text.contains("[/tmp/x/Hotfile:4:10]"), "{text}");
    assert!(text.contains("───┬───"), "{text}");
}
