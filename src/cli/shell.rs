//! What hot gives shells and `man`: completion scripts (clap_complete) that also complete
//! node names from the Hotfile, and man pages (clap_mangen).
//!
//! clap_complete writes static scripts, which know the flags but not the Hotfile. Each script
//! gets a small addition that asks `hot __nodes` (the Hotfile's node names, nothing when there
//! is none) where a node name may go: after `hot run` and `hot watch`. The names are read
//! when the user presses Tab, so they follow edits to the Hotfile and work offline.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell as Generator;

use super::args::{Cli, Shell};
use super::failure::{Failure, failure};

/// The completion script for `shell`.
pub(super) fn completions(shell: Shell) -> String {
    let generator = match shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
    };
    // clap_complete offers hidden commands too: complete from a copy without them.
    let full = Cli::command();
    let mut visible = clap::Command::new("hot")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
    let mut script = Vec::new();
    clap_complete::generate(generator, &mut visible, "hot", &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    match shell {
        Shell::Bash => script + BASH_NODES,
        Shell::Zsh => zsh_with_nodes(&script),
        Shell::Fish => script + FISH_NODES,
    }
}

/// Bash: clap's `_hot` completes flags and subcommands; `_hot_with_nodes` adds the node names
/// where `run` or `watch` takes them (not after `--`, where `hot run` passes arguments on).
const BASH_NODES: &str = r#"
# Node names from the Hotfile after `hot run` and `hot watch` (added by hot). After `--`
# come the command's own arguments: files, as bash completes by default.
_hot_with_nodes() {
    _hot "$@"
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local i word sub="" file=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
            --) COMPREPLY=(); return 0 ;;
            -f|--file) file=(--file "${COMP_WORDS[i+1]}"); i=$((i + 1)) ;;
            --file=*) file=(--file "${word#--file=}") ;;
            -j|--jobs|--color|--debounce|--format) i=$((i + 1)) ;;
            -*) ;;
            *) [[ -z $sub ]] && sub=$word ;;
        esac
    done
    [[ $sub == run || $sub == watch ]] || return 0
    [[ $cur == -* ]] && return 0
    case $prev in -f|--file|-j|--jobs|--color|--debounce) return 0 ;; esac
    # Where a name goes, clap offers only flags and a `<NAME>` placeholder: names replace them.
    COMPREPLY=()
    local name
    while IFS= read -r name; do
        [[ $name == "$cur"* ]] && COMPREPLY+=("$name")
    done < <(command hot "${file[@]}" __nodes 2>/dev/null)
    return 0
}
complete -F _hot_with_nodes -o bashdefault -o default hot
"#;

/// Fish: one more rule for the positional arguments of `run` and `watch`.
const FISH_NODES: &str = r#"
# Node names from the Hotfile after `hot run` and `hot watch` (added by hot).
function __hot_nodes
    set -l words (commandline -opc)
    set -l file
    for i in (seq (count $words))
        switch $words[$i]
            case -f --file
                set file --file $words[(math $i + 1)]
            case '--file=*'
                set file --file (string replace -- --file= '' $words[$i])
        end
    end
    command hot $file __nodes 2>/dev/null
end
complete -c hot -n "__fish_seen_subcommand_from run watch" -f -a "(__hot_nodes)" -d "node"
"#;

/// Zsh: clap declares the node names as `_default` (files); they become `_hot_nodes`.
fn zsh_with_nodes(script: &str) -> String {
    let mut out = String::with_capacity(script.len() + ZSH_NODES.len());
    for line in script.lines() {
        if line.contains("::names -- ") || line.contains(":names -- ") {
            out.push_str(&line.replace(":_default'", ":_hot_nodes'"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    // `-f` before the command is parsed by the outer `_arguments`, whose `opt_args` the
    // command's own `_arguments` replaces: keep it where `_hot_nodes` can see it.
    out = out.replacen(
        "    (hot)\n",
        "    (hot)\n        local _hot_file=${opt_args[-f]:-${opt_args[--file]}}\n",
        1,
    );
    // The function must exist before `_hot` runs, whichever way the script is loaded.
    match out.find("\n_hot() {") {
        Some(at) => out.insert_str(at + 1, ZSH_NODES),
        None => out.push_str(ZSH_NODES),
    }
    out
}

const ZSH_NODES: &str = r#"# Node names from the Hotfile after `hot run` and `hot watch` (added by hot).
(( $+functions[_hot_nodes] )) ||
_hot_nodes() {
    local -a file nodes
    local i
    [[ -n $_hot_file ]] && file=(--file $_hot_file)
    for (( i = 2; i < CURRENT; i++ )); do
        case ${words[i]} in
            -f|--file) file=(--file ${words[i+1]}) ;;
            --file=*) file=(--file ${words[i]#--file=}) ;;
        esac
    done
    nodes=(${(f)"$(command hot $file __nodes 2>/dev/null)"})
    compadd -a nodes
}

"#;

/// `hot manpage`: hot.1 as roff; with `dir`, hot.1 and one page per command written there
/// (and their paths returned).
pub(super) fn manpage(dir: Option<&Path>) -> Result<String, Failure> {
    let command = Cli::command();
    match dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|e| failure("hot::io", format!("cannot render the man page: {e}")))?;
            Ok(String::from_utf8_lossy(&page).into_owned())
        }
        Some(dir) => {
            let failed = |e: std::io::Error| {
                failure(
                    "hot::io",
                    format!("cannot write man pages into {}: {e}", dir.display()),
                )
                .with_help("name a directory that exists and is writable")
            };
            clap_mangen::generate_to(command, dir).map_err(failed)?;
            let mut pages: Vec<String> = std::fs::read_dir(dir)
                .map_err(failed)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "1"))
                .map(|p| format!("{}\n", p.display()))
                .collect();
            pages.sort();
            Ok(pages.concat())
        }
    }
}
