//! Reading one unit file or drop-in without ever blocking on it.
//!
//! A unit path can name anything: a named pipe (opening it for reading waits
//! for a writer, forever), a device, a directory, a symbolic link loop. Only
//! regular files are unit files; `/dev/null` as the target of a link is
//! masking (systemd.unit(5)) and reads as empty. The file is opened with
//! O_NONBLOCK and its type checked on the open descriptor (fstat), so a file
//! swapped for a FIFO after a check cannot block either.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// What `path` is when it is not a regular file (following links), in words
/// for a one-line error; `None` for a regular file or a link to `/dev/null`.
pub fn not_a_unit_file(path: &Path) -> Option<String> {
    if fs::read_link(path).is_ok_and(|t| t == Path::new("/dev/null")) {
        return None;
    }
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(describe_error(path, &e)),
    };
    let t = meta.file_type();
    let what = if t.is_file() {
        return None;
    } else if t.is_dir() {
        "is a directory, not a unit file (name the files in it, e.g. DIR/*.service)"
    } else if t.is_fifo() {
        "is a named pipe (FIFO), not a unit file"
    } else if t.is_char_device() {
        "is a character device, not a unit file"
    } else if t.is_block_device() {
        "is a block device, not a unit file"
    } else if t.is_socket() {
        "is a socket, not a unit file"
    } else {
        "is not a regular file"
    };
    Some(what.to_string())
}

/// An error opening or examining `path`, in words.
fn describe_error(path: &Path, e: &io::Error) -> String {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return "is a symbolic link loop (too many levels of symbolic links)".to_string();
    }
    if e.kind() == io::ErrorKind::NotFound {
        return if fs::symlink_metadata(path).is_ok() {
            "is a symbolic link to nothing (its target does not exist)".to_string()
        } else {
            "no such file".to_string()
        };
    }
    if e.kind() == io::ErrorKind::PermissionDenied {
        return "permission denied".to_string();
    }
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_string()
}

/// The bytes of a unit file or drop-in; an error naming what it is otherwise.
pub fn read_unit_bytes(path: &Path) -> io::Result<Vec<u8>> {
    if fs::read_link(path).is_ok_and(|t| t == Path::new("/dev/null")) {
        return Ok(Vec::new());
    }
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), describe_error(path, &e)))?;
    if !f.metadata()?.file_type().is_file() {
        let what = not_a_unit_file(path).unwrap_or_else(|| "is not a regular file".into());
        return Err(io::Error::new(io::ErrorKind::InvalidInput, what));
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("daimon-unit-file-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("tmp dir");
        d
    }

    #[test]
    fn only_regular_files_are_read_and_a_fifo_never_blocks() {
        let d = tmp("kinds");
        let unit = d.join("a.service");
        fs::write(&unit, "[Service]\nExecStart=/bin/true\n").expect("write");
        assert_eq!(not_a_unit_file(&unit), None);
        assert!(
            read_unit_bytes(&unit)
                .expect("read")
                .starts_with(b"[Service]")
        );

        let fifo = d.join("f.service");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(status.success());
        let e = read_unit_bytes(&fifo).expect_err("a FIFO is no unit file");
        assert!(e.to_string().contains("named pipe"), "{e}");

        let e = read_unit_bytes(&d).expect_err("a directory");
        assert!(e.to_string().contains("is a directory"), "{e}");

        let looped = d.join("loop.service");
        std::os::unix::fs::symlink(&looped, &looped).expect("symlink");
        assert!(not_a_unit_file(&looped).is_some_and(|w| w.contains("symbolic link loop")));
        assert!(read_unit_bytes(&looped).is_err());

        let dangling = d.join("gone.service");
        std::os::unix::fs::symlink(d.join("nowhere"), &dangling).expect("symlink");
        assert!(not_a_unit_file(&dangling).is_some_and(|w| w.contains("to nothing")));
        assert_eq!(
            not_a_unit_file(&d.join("absent.service")).as_deref(),
            Some("no such file")
        );

        assert!(
            not_a_unit_file(Path::new("/dev/zero")).is_some_and(|w| w.contains("character device"))
        );
        let masked = d.join("m.service");
        std::os::unix::fs::symlink("/dev/null", &masked).expect("symlink");
        assert_eq!(not_a_unit_file(&masked), None);
        assert_eq!(read_unit_bytes(&masked).expect("masked"), b"");
        let _ = fs::remove_dir_all(&d);
    }
}
