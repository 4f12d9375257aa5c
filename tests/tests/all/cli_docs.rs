//! `fwsign completions` and `fwsign man`, generated from the parser's own
//! definitions, and `NO_COLOR`: what a user installs from the README works,
//! and covers the commands the binary really has.

use std::process::Command;

use fwsign_tests::{Scratch, fwsign_bin};

fn fwsign(args: &[&str]) -> std::process::Output {
    Command::new(fwsign_bin()).args(args).output().unwrap()
}

#[test]
fn every_shell_gets_a_completion_script_naming_the_subcommands_and_flags() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = fwsign(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        // fish spells a long flag `-l hardware-id`; the others in full.
        for word in ["repo", "publish", "rotate-root", "hardware-id", "threshold"] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
}

#[test]
fn the_bash_script_parses_and_registers_completion_for_fwsign() {
    let scratch = Scratch::new("completions-bash");
    let path = scratch.path().join("fwsign.bash");
    std::fs::write(&path, fwsign(&["completions", "bash"]).stdout).unwrap();
    let check = format!(
        "set -e; source {}; complete -p fwsign",
        path.to_str().unwrap()
    );
    let out = Command::new("bash").args(["-c", &check]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("fwsign"));
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = fwsign(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(fwsign_tests::USAGE));
}

#[test]
fn man_writes_one_page_per_subcommand_and_prints_the_top_page() {
    let top = fwsign(&["man"]);
    assert!(top.status.success());
    let top = String::from_utf8(top.stdout).unwrap();
    assert!(top.contains(".TH fwsign 1"), "{top}");

    let scratch = Scratch::new("man-pages");
    let dir = scratch.path().join("man1");
    let out = fwsign(&["man", "--out-dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    for page in [
        "fwsign.1",
        "fwsign-repo.1",
        "fwsign-repo-add.1",
        "fwsign-repo-publish.1",
        "fwsign-key-backup.1",
        "fwsign-device-pack.1",
        "fwsign-client-download.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        let name = page.trim_end_matches(".1");
        assert!(text.contains(&format!(".TH {name} 1")), "{page}");
    }
    let add = std::fs::read_to_string(dir.join("fwsign-repo-add.1")).unwrap();
    assert!(add.contains("hardware\\-id"), "the page lists the flags");
    assert!(!dir.join("fwsign-help.1").exists());
}

#[test]
fn no_color_turns_colour_off_even_when_forced() {
    let forced = Command::new(fwsign_bin())
        .arg("--help")
        .env("CLICOLOR_FORCE", "1")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(
        forced.stdout.contains(&0x1b),
        "CLICOLOR_FORCE=1 colours the help (so the next check can fail)"
    );
    let plain = Command::new(fwsign_bin())
        .arg("--help")
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!plain.stdout.contains(&0x1b), "NO_COLOR=1 must win");
}

#[test]
fn repo_targets_help_says_it_shows_approvers_names_beside_key_ids() {
    let out = fwsign(&["repo", "targets", "--help"]);
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("approver's name"), "{help}");
    assert!(
        !help.contains("the key IDs whose signatures approved it"),
        "{help}"
    );
}

/// What each README install line relies on: zsh autoloads `_fwsign` from
/// `$fpath` only when its first line is `#compdef fwsign`; fish loads
/// `completions/fwsign.fish` by the command's name; PowerShell registers a
/// native completer when the profile evaluates the script. Where zsh or
/// fish is installed, the README's steps are run as written.
#[test]
fn the_readme_install_lines_register_completion_in_zsh_fish_and_powershell() {
    let script = |shell: &str| String::from_utf8(fwsign(&["completions", shell]).stdout).unwrap();
    let zsh = script("zsh");
    assert_eq!(zsh.lines().next(), Some("#compdef fwsign"));
    assert!(script("fish").contains("complete -c fwsign"));
    assert!(
        script("powershell").contains("Register-ArgumentCompleter -Native -CommandName 'fwsign'")
    );
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for line in [
        "fwsign completions zsh > ~/.zfunc/_fwsign",
        "fwsign completions fish > ~/.config/fish/completions/fwsign.fish",
        "fwsign completions powershell | Out-String | Invoke-Expression",
    ] {
        assert!(readme.contains(line), "README lacks {line}");
    }

    let scratch = Scratch::new("completions-shells");
    let home = scratch.path();
    let bin_dir = fwsign_bin().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    if which("zsh") {
        std::fs::create_dir_all(home.join(".zfunc")).unwrap();
        std::fs::write(home.join(".zfunc/_fwsign"), &zsh).unwrap();
        let out = Command::new("zsh")
            .args([
                "-fc",
                "fpath=(~/.zfunc $fpath); autoload -Uz compinit && compinit -u -D; print -r -- ${_comps[fwsign]}",
            ])
            .env("HOME", home)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "_fwsign",
            "{out:?}"
        );
    } else {
        assert!(
            std::env::var("FWSIGN_REQUIRE_PEERS").as_deref() != Ok("1"),
            "zsh is missing but FWSIGN_REQUIRE_PEERS=1: run scripts/test"
        );
        eprintln!("skipped the zsh run: zsh not installed");
    }
    if which("fish") {
        let dir = home.join(".config/fish/completions");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("fwsign.fish"), script("fish")).unwrap();
        let out = Command::new("fish")
            .args(["-c", "complete -C 'fwsign repo targets --'"])
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("--staged"),
            "{out:?}"
        );
    } else {
        assert!(
            std::env::var("FWSIGN_REQUIRE_PEERS").as_deref() != Ok("1"),
            "fish is missing but FWSIGN_REQUIRE_PEERS=1: run scripts/test"
        );
        eprintln!("skipped the fish run: fish not installed");
    }
}

fn which(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}
