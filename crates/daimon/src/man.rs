//! `daimon man`: the manual pages, made from the clap definitions so that they
//! say what `--help` says. daimon(1) lists the commands as daimon-COMMAND(1), and
//! each of those pages exists: `daimon man COMMAND` prints one, `--dir` writes
//! them all where man(1) finds them.

use crate::cli::ManArgs;
use crate::error::{CliError, CliResult};

pub fn run(args: &ManArgs) -> CliResult {
    let mut cmd = crate::complete::command().disable_help_subcommand(true);
    cmd.build();
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::fail(format!("cannot create {}: {e}", dir.display())))?;
        clap_mangen::generate_to(cmd, dir).map_err(|e| {
            CliError::fail(format!(
                "writing the manual pages into {}: {e}",
                dir.display()
            ))
        })?;
        println!("wrote the manual pages into {}", dir.display());
        return Ok(0);
    }
    let mut page = &cmd;
    for word in &args.command {
        page = page.find_subcommand(word).ok_or_else(|| {
            CliError::fail(format!(
                "no manual page for \"{}\": `daimon --help` lists the commands",
                args.command.join(" ")
            ))
        })?;
    }
    let mut buf = Vec::new();
    clap_mangen::Man::new(page.clone())
        .render(&mut buf)
        .map_err(|e| CliError::fail(format!("rendering the manual: {e}")))?;
    crate::print_quietly(&buf, "the manual")
}
