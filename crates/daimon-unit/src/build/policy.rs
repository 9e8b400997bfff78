//! How directives daimon does not apply are reported: all are warnings naming file:line.
//!
//! - sandboxing and resource-control directives: "not enforced by daimon yet";
//! - other directives systemd knows: "not supported by daimon yet";
//! - anything else: "unknown directive"; `X-` prefixed keys are silently ignored, as
//!   systemd does.

use super::Cx;
use super::known::is_known;
use crate::syntax::Entry;

/// Prefixes and names of the sandboxing / resource-control family (systemd.exec(5)
/// "SANDBOXING", "SECURITY", "CAPABILITIES", "SYSTEM CALL FILTERING";
/// systemd.resource-control(5)).
const NOT_ENFORCED_PREFIXES: &[&str] = &[
    "Protect",
    "Private",
    "Restrict",
    "Capabilit",
    "AmbientCapabilities",
    "SystemCall",
    "ReadWrite",
    "ReadOnly",
    "Inaccessible",
    "ExecPaths",
    "NoExecPaths",
    "LockPersonality",
    "MemoryDenyWriteExecute",
    "Device",
    "IPAddress",
    "IPIngress",
    "IPEgress",
    "RemoveIPC",
    "DynamicUser",
    "SecureBits",
    "Bind",
    "TemporaryFileSystem",
    "ProcSubset",
    "KeyringMode",
    "AppArmorProfile",
    "SELinuxContext",
    "SmackProcessLabel",
    "RootImage",
    "RootHash",
    "RootVerity",
    "MountFlags",
    "MountAPIVFS",
    "MountImages",
    "Personality",
    "SocketBind",
    "Memory",
    "CPU",
    "IO",
    "BlockIO",
    "Tasks",
    "StartupCPU",
    "StartupIO",
    "StartupBlockIO",
    "StartupAllowed",
    "AllowedCPUs",
    "AllowedMemoryNodes",
    "Delegate",
    "DisableControllers",
    "ManagedOOM",
    "NUMA",
    "OOMScoreAdjust",
    "CoredumpFilter",
    "NetworkNamespacePath",
    "IPCNamespacePath",
    "ExtensionDirectories",
    "ExtensionImages",
    "BPFProgram",
    "NetClass",
];

fn is_not_enforced(key: &str) -> bool {
    NOT_ENFORCED_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Report an entry no handler applied.
pub(crate) fn report_unhandled(cx: &mut Cx<'_, '_>, section: &str, e: &Entry) {
    let key = e.key.as_str();
    if key.starts_with("X-") {
        return;
    }
    let msg = if is_known(section, key) {
        if key == "TTYPath" {
            // StandardInput=tty is adapted, not TTYPath=: there is no console
            // for a user's daimond to lend.
            "TTYPath= is not used: with StandardInput=tty, daimond gives the main process \
             a pseudo-terminal of its own (daimon attach connects to it); ignored"
                .to_string()
        } else if is_not_enforced(key) {
            format!("{key}= is not enforced by daimon yet; ignored")
        } else {
            format!("{key}= is not supported by daimon yet; ignored")
        }
    } else {
        format!("unknown directive {key}= in [{section}]; ignored")
    };
    cx.warn(e, msg);
}

/// Warn that a directive is parsed but its behaviour is not supported.
pub(crate) fn warn_unsupported(cx: &mut Cx<'_, '_>, e: &Entry) {
    let key = &e.key;
    cx.warn(
        e,
        format!("{key}= is parsed but not supported by daimon yet; ignored"),
    );
}
