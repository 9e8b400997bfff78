//! What the store keeps beside each pipe: the metadata of its reader, as JSON
//! (the store never reads it; the next daimond does).

use crate::log_writer::StreamKind;

/// What one kept pipe carries: the `LogMsg::Open` of its reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeMeta {
    pub unit: String,
    pub invocation: String,
    pub pid: u32,
    pub stream: StreamKind,
    pub level_prefix: bool,
    pub identifier: Option<String>,
    /// Written by the unit's main process, started at this /proc start time:
    /// a new daimond can adopt it from here if the snapshot missed it.
    pub main: Option<u64>,
    /// The descriptor is a pty master (`crate::console`), not a pipe's read
    /// end: a new daimond serves it as the unit's terminal. Its read fails
    /// with EIO once the service's side is closed, which means end of file.
    pub pty: bool,
}

impl PipeMeta {
    pub fn to_bytes(&self) -> Vec<u8> {
        let stream = match self.stream {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        };
        let v = serde_json::json!({
            "unit": self.unit,
            "invocation": self.invocation,
            "pid": self.pid,
            "stream": stream,
            "level_prefix": self.level_prefix,
            "identifier": self.identifier,
            "main_start_time": self.main,
            "pty": self.pty,
        });
        serde_json::to_vec(&v).unwrap_or_default()
    }

    pub fn from_bytes(b: &[u8]) -> Option<PipeMeta> {
        let v: serde_json::Value = serde_json::from_slice(b).ok()?;
        let stream = match v.get("stream")?.as_str()? {
            "stdout" => StreamKind::Stdout,
            "stderr" => StreamKind::Stderr,
            _ => return None,
        };
        Some(PipeMeta {
            unit: v.get("unit")?.as_str()?.to_string(),
            invocation: v.get("invocation")?.as_str()?.to_string(),
            pid: u32::try_from(v.get("pid")?.as_u64()?).ok()?,
            stream,
            level_prefix: v.get("level_prefix")?.as_bool()?,
            identifier: v
                .get("identifier")
                .and_then(|i| i.as_str())
                .map(String::from),
            main: v.get("main_start_time").and_then(|t| t.as_u64()),
            pty: v.get("pty").and_then(|p| p.as_bool()).unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips() {
        let m = PipeMeta {
            unit: "bot.service".into(),
            invocation: "ab".repeat(16),
            pid: 42,
            stream: StreamKind::Stderr,
            level_prefix: true,
            identifier: Some("bot".into()),
            main: Some(12345),
            pty: true,
        };
        assert_eq!(PipeMeta::from_bytes(&m.to_bytes()), Some(m));
    }
}
