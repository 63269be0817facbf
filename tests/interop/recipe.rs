//! docs/recipes.md's gunicorn recipe and the gunicorn fixture wait for the same line, printed
//! by the same hook, so the matrix runs what the recipe tells users to write.

use std::path::Path;

use crate::fixtures::{GUNICORN_READY, kdl};

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The recipe's section, up to the next heading.
fn gunicorn_recipe() -> String {
    let recipes = read("docs/recipes.md");
    let start = recipes.find("\n## gunicorn\n").expect("a gunicorn recipe");
    let rest = &recipes[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_owned()
}

/// gunicorn logs `Booting worker with pid` in the forked worker before it imports the app
/// (arbiter.py's `spawn_worker`, then `init_process`), so a ready line on it let hot stop the
/// old instance while the new one could not answer yet.
#[test]
fn the_gunicorn_recipe_waits_for_the_loaded_app_not_the_booting_worker() {
    let recipe = gunicorn_recipe();
    assert!(!recipe.contains("ready log=\"Booting worker"), "{recipe}");
    let ready = format!("ready log={}", kdl(GUNICORN_READY));
    assert!(
        recipe.contains(&ready),
        "the recipe waits for `{ready}`:\n{recipe}"
    );
    // The recipe's hook is the fixture's, line for line.
    let fixture = read("tests/servers/gunicorn_conf.py");
    let hook: Vec<&str> = recipe
        .lines()
        .skip_while(|l| !l.starts_with("def post_worker_init"))
        .take_while(|l| !l.starts_with("```"))
        .collect();
    assert!(hook.len() >= 2, "a post_worker_init hook in:\n{recipe}");
    assert!(
        fixture.contains(&hook.join("\n")),
        "tests/servers/gunicorn_conf.py differs from the recipe's hook:\n{}",
        hook.join("\n")
    );
    // And what it prints is what the pattern matches.
    let pattern = regex::Regex::new(GUNICORN_READY).expect("a valid pattern");
    assert!(pattern.is_match("worker 4242 serving"));
    assert!(!pattern.is_match("[INFO] Booting worker with pid: 4242"));
}
