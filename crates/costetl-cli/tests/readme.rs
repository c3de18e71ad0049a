//! The README shows what its commands print: every ```sh block that is
//! followed by a ```text block is run (its `cargo run -p costetl-cli --`
//! replaced by this build's binary, from the repository root) and must
//! print exactly that text, stderr first (warnings), then stdout. A README
//! that drifts from the tool fails here.

use std::path::PathBuf;
use std::process::Command;

const PREFIX: &str = "cargo run -p costetl-cli -- ";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The (command, expected output) pairs of `markdown`.
fn examples(markdown: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut blocks = markdown.split("```").skip(1).step_by(2).peekable();
    while let Some(block) = blocks.next() {
        let Some(command) = block.strip_prefix("sh\n") else {
            continue;
        };
        if let Some(text) = blocks.peek().and_then(|b| b.strip_prefix("text\n")) {
            out.push((command.trim().to_owned(), text.to_owned()));
            blocks.next();
        }
    }
    out
}

#[test]
fn readme_outputs_are_what_the_commands_print() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let pairs = examples(&readme);
    assert!(!pairs.is_empty(), "the README shows no command with output");
    for (command, expected) in pairs {
        let args = command
            .strip_prefix(PREFIX)
            .unwrap_or_else(|| panic!("README command not of the form `{PREFIX}…`: {command}"));
        let out = Command::new(env!("CARGO_BIN_EXE_costetl"))
            .args(args.split_whitespace())
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{command}: exit {:?}",
            out.status.code()
        );
        let got = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(
            got, expected,
            "README shows another output for `{command}`: regenerate the block"
        );
    }
}

#[test]
fn examples_pair_commands_with_the_text_after_them() {
    let md = "x\n```sh\ncargo run -p costetl-cli -- a\n```\n\n```text\nout\n```\n```sh\nb\n```\n";
    assert_eq!(
        examples(md),
        [(
            "cargo run -p costetl-cli -- a".to_owned(),
            "out\n".to_owned()
        )]
    );
}
