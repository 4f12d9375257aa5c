//! Where `repo add` finds its files besides single paths: a directory, read
//! recursively, and a list (`--files-from`), so that 100,000 files need not
//! fit on one command line. Both only name files; reading and staging them
//! is [`Repository::add`](crate::Repository::add)'s.
//!
//! How names are formed (the CLI documents the same):
//! - a directory: each regular file under it, named by its path relative to
//!   the directory with `/` between components (`DIR/board-a/fw.bin` is
//!   `board-a/fw.bin`), after the prefix if one is given;
//! - a list: one entry per line, empty lines skipped. `NAME=PATH` stages the
//!   file at PATH as NAME (target names never contain `=`, so the first `=`
//!   separates them); a line without `=` is a relative PATH that is also the
//!   name (a leading `./` dropped). PATH is read relative to the current
//!   directory. The prefix, if given, goes before every name.

use std::fs;
use std::path::{Path, PathBuf};

use super::NewTarget;
use super::names::check_target_name;
use crate::{RepoError, io_err};

/// `name` after `prefix` (`board-a` or `board-a/` give `board-a/NAME`).
pub(crate) fn with_prefix(prefix: Option<&str>, name: &str) -> String {
    match prefix {
        Some(p) => format!("{}/{name}", p.trim_end_matches('/')),
        None => name.to_owned(),
    }
}

/// Every regular file under `dir`, recursively, in name order, named by its
/// path relative to `dir` after `prefix`. A symbolic link to a file is
/// staged as that file; a link to a directory is refused (a loop would never
/// end, and a tree is staged as it is, not as links make it look).
pub fn targets_from_dir(dir: &Path, prefix: Option<&str>) -> Result<Vec<NewTarget>, RepoError> {
    let mut out = Vec::new();
    walk(dir, "", prefix, &mut out)?;
    if out.is_empty() {
        return Err(RepoError::Invalid(format!(
            "{}: no files in this directory",
            dir.display()
        )));
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    rel: &str,
    prefix: Option<&str>,
    out: &mut Vec<NewTarget>,
) -> Result<(), RepoError> {
    let mut entries = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err(dir))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(RepoError::Invalid(format!(
                "{}: the name is not UTF-8, so it cannot be a target name",
                path.display()
            )));
        };
        let name = if rel.is_empty() {
            file_name
        } else {
            format!("{rel}/{file_name}")
        };
        let mut kind = entry.file_type().map_err(io_err(&path))?;
        if kind.is_symlink() {
            kind = fs::metadata(&path).map_err(io_err(&path))?.file_type();
            if kind.is_dir() {
                return Err(RepoError::Invalid(format!(
                    "{}: a symbolic link to a directory; give the directory itself",
                    path.display()
                )));
            }
        }
        if kind.is_dir() {
            walk(&path, &name, prefix, out)?;
        } else if kind.is_file() {
            let name = with_prefix(prefix, &name);
            check_target_name(&name).map_err(|e| named(&path, &e))?;
            out.push(NewTarget { file: path, name });
        } else {
            return Err(RepoError::Invalid(format!(
                "{}: not a regular file or directory",
                path.display()
            )));
        }
    }
    Ok(())
}

/// The files a `--files-from` list names (see the module docs for the
/// format). `source` names the list in errors (`list.txt`, `stdin`), with
/// the line number.
pub fn targets_from_list(
    list: &str,
    source: &str,
    prefix: Option<&str>,
) -> Result<Vec<NewTarget>, RepoError> {
    let mut out = Vec::new();
    for (index, line) in list.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let at = |why: String| RepoError::Invalid(format!("{source}:{}: {why}", index + 1));
        let (name, file) = match line.split_once('=') {
            Some((name, path)) => {
                if path.is_empty() {
                    return Err(at(format!("{line:?}: no PATH after NAME=")));
                }
                (name.to_owned(), PathBuf::from(path))
            }
            None => {
                let mut name = line;
                while let Some(rest) = name.strip_prefix("./") {
                    name = rest;
                }
                check_target_name(name).map_err(|e| {
                    at(format!(
                        "{line}: this path is not a target name ({e}); write NAME={line}"
                    ))
                })?;
                (name.to_owned(), PathBuf::from(line))
            }
        };
        let name = with_prefix(prefix, &name);
        check_target_name(&name).map_err(|e| at(e.to_string()))?;
        out.push(NewTarget { file, name });
    }
    if out.is_empty() {
        return Err(RepoError::Invalid(format!("{source}: lists no files")));
    }
    Ok(out)
}

fn named(path: &Path, e: &RepoError) -> RepoError {
    RepoError::Invalid(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_names_files_by_path_or_by_name_equals_path() {
        let list = "./a/fw.bin\n\nboard-b/fw.bin=/tmp/build/out.bin\n";
        let targets = targets_from_list(list, "list.txt", Some("v1/")).unwrap();
        let got: Vec<(&str, &Path)> = targets
            .iter()
            .map(|t| (t.name.as_str(), t.file.as_path()))
            .collect();
        assert_eq!(
            got,
            [
                ("v1/a/fw.bin", Path::new("./a/fw.bin")),
                ("v1/board-b/fw.bin", Path::new("/tmp/build/out.bin")),
            ]
        );
    }

    #[test]
    fn a_list_line_that_cannot_be_a_name_is_refused_with_its_line_number() {
        let err = targets_from_list("ok.bin\n/abs/fw.bin\n", "list.txt", None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("list.txt:2:"), "{text}");
        assert!(text.contains("NAME="), "{text}");
        let err = targets_from_list("../up.bin\n", "stdin", None).unwrap_err();
        assert!(err.to_string().contains("stdin:1:"), "{err}");
        assert!(targets_from_list("\n\n", "stdin", None).is_err());
    }
}
