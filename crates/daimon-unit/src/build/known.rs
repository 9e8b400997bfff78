//! Names of every directive systemd (v252, plus a few newer ones) knows per section.
//!
//! Used only to tell "known to systemd but not supported by daimon" (a warning naming
//! the directive) from "unknown" (a warning too, worded differently). Lists are sorted
//! so lookups are a binary search.

#[rustfmt::skip]
pub(crate) const UNIT: [&str; 115] = [
    "After", "AllowIsolate", "AssertACPower", "AssertArchitecture", "AssertCPUFeature",
    "AssertCPUPressure", "AssertCPUs", "AssertCapability", "AssertControlGroupController",
    "AssertCredential", "AssertDirectoryNotEmpty", "AssertEnvironment", "AssertFileIsExecutable",
    "AssertFileNotEmpty", "AssertFirstBoot", "AssertGroup", "AssertHost", "AssertIOPressure",
    "AssertKernelCommandLine", "AssertKernelVersion", "AssertMemory", "AssertMemoryPressure",
    "AssertNeedsUpdate", "AssertOSRelease", "AssertPathExists", "AssertPathExistsGlob",
    "AssertPathIsDirectory", "AssertPathIsEncrypted", "AssertPathIsMountPoint",
    "AssertPathIsReadWrite", "AssertPathIsSymbolicLink", "AssertSecurity", "AssertUser",
    "AssertVirtualization", "Before", "BindTo", "BindsTo", "CollectMode", "ConditionACPower",
    "ConditionArchitecture", "ConditionCPUFeature", "ConditionCPUPressure", "ConditionCPUs",
    "ConditionCapability", "ConditionControlGroupController", "ConditionCredential",
    "ConditionDirectoryNotEmpty", "ConditionEnvironment", "ConditionFileIsExecutable",
    "ConditionFileNotEmpty", "ConditionFirmware", "ConditionFirstBoot", "ConditionGroup",
    "ConditionHost", "ConditionIOPressure", "ConditionKernelCommandLine", "ConditionKernelVersion",
    "ConditionMemory", "ConditionMemoryPressure", "ConditionNeedsUpdate", "ConditionOSRelease",
    "ConditionPathExists", "ConditionPathExistsGlob", "ConditionPathIsDirectory",
    "ConditionPathIsEncrypted", "ConditionPathIsMountPoint", "ConditionPathIsReadWrite",
    "ConditionPathIsSymbolicLink", "ConditionSecurity", "ConditionUser", "ConditionVirtualization",
    "Conflicts", "DefaultDependencies", "Description", "Documentation", "FailureAction",
    "FailureActionExitStatus", "IgnoreOnIsolate", "IgnoreOnSnapshot", "JobRunningTimeoutSec",
    "JobTimeoutAction", "JobTimeoutRebootArgument", "JobTimeoutSec", "JoinsNamespaceOf",
    "OnFailure", "OnFailureIsolate", "OnFailureJobMode", "OnSuccess", "OnSuccessJobMode", "PartOf",
    "PropagateReloadFrom", "PropagateReloadTo", "PropagatesReloadTo", "PropagatesStopTo",
    "RebootArgument", "RefuseManualStart", "RefuseManualStop", "ReloadPropagatedFrom", "Requires",
    "RequiresMountsFor", "RequiresOverridable", "Requisite", "RequisiteOverridable", "SourcePath",
    "StartLimitAction", "StartLimitBurst", "StartLimitInterval", "StartLimitIntervalSec",
    "StopPropagatedFrom", "StopWhenUnneeded", "SuccessAction", "SuccessActionExitStatus",
    "SurviveFinalKillSignal", "Upholds", "Wants",
];

pub(crate) const INSTALL: [&str; 5] =
    ["Alias", "Also", "DefaultInstance", "RequiredBy", "WantedBy"];

/// Keys `[Service]` and `[Socket]` both take: systemd.exec(5), systemd.kill(5),
/// systemd.resource-control(5) and a few more.
#[rustfmt::skip]
pub(crate) const EXEC_CONTEXT: [&str; 208] = [
    "AllowedCPUs", "AllowedMemoryNodes", "AmbientCapabilities", "AppArmorProfile", "BPFProgram",
    "BindPaths", "BindReadOnlyPaths", "BlockIOAccounting", "BlockIODeviceWeight",
    "BlockIOReadBandwidth", "BlockIOWeight", "BlockIOWriteBandwidth", "CPUAccounting",
    "CPUAffinity", "CPUQuota", "CPUQuotaPeriodSec", "CPUSchedulingPolicy", "CPUSchedulingPriority",
    "CPUSchedulingResetOnFork", "CPUShares", "CPUWeight", "CacheDirectory", "CacheDirectoryMode",
    "Capabilities", "CapabilityBoundingSet", "ConfigurationDirectory", "ConfigurationDirectoryMode",
    "CoredumpFilter", "DefaultMemoryLow", "DefaultMemoryMin", "Delegate", "DeviceAllow",
    "DevicePolicy", "DisableControllers", "DynamicUser", "Environment", "EnvironmentFile",
    "ExecPaths", "ExecSearchPath", "ExecStartPost", "ExecStartPre", "ExecStopPost",
    "ExtensionDirectories", "ExtensionImages", "FinalKillSignal", "Group", "IOAccounting",
    "IODeviceLatencyTargetSec", "IODeviceWeight", "IOReadBandwidthMax", "IOReadIOPSMax",
    "IOSchedulingClass", "IOSchedulingPriority", "IOWeight", "IOWriteBandwidthMax",
    "IOWriteIOPSMax", "IPAccounting", "IPAddressAllow", "IPAddressDeny", "IPCNamespacePath",
    "IPEgressFilterPath", "IPIngressFilterPath", "IgnoreSIGPIPE", "InaccessibleDirectories",
    "InaccessiblePaths", "KeyringMode", "KillMode", "KillSignal", "LimitAS", "LimitCORE",
    "LimitCPU", "LimitDATA", "LimitFSIZE", "LimitLOCKS", "LimitMEMLOCK", "LimitMSGQUEUE",
    "LimitNICE", "LimitNOFILE", "LimitNPROC", "LimitRSS", "LimitRTPRIO", "LimitRTTIME",
    "LimitSIGPENDING", "LimitSTACK", "LoadCredential", "LoadCredentialEncrypted", "LockPersonality",
    "LogExtraFields", "LogLevelMax", "LogNamespace", "LogRateLimitBurst", "LogRateLimitIntervalSec",
    "LogsDirectory", "LogsDirectoryMode", "ManagedOOMMemoryPressure",
    "ManagedOOMMemoryPressureLimit", "ManagedOOMPreference", "ManagedOOMSwap", "MemoryAccounting",
    "MemoryDenyWriteExecute", "MemoryHigh", "MemoryLimit", "MemoryLow", "MemoryMax", "MemoryMin",
    "MemorySwapMax", "MountAPIVFS", "MountFlags", "MountImages", "NUMAMask", "NUMAPolicy",
    "NetClass", "NetworkNamespacePath", "Nice", "NoExecPaths", "NoNewPrivileges", "OOMScoreAdjust",
    "PAMName", "PassEnvironment", "Personality", "PrivateDevices", "PrivateIPC", "PrivateMounts",
    "PrivateNetwork", "PrivateTmp", "PrivateUsers", "ProcSubset", "ProtectClock",
    "ProtectControlGroups", "ProtectHome", "ProtectHostname", "ProtectKernelLogs",
    "ProtectKernelModules", "ProtectKernelTunables", "ProtectProc", "ProtectSystem",
    "ReadOnlyDirectories", "ReadOnlyPaths", "ReadWriteDirectories", "ReadWritePaths", "RemoveIPC",
    "RestartKillSignal", "RestrictAddressFamilies", "RestrictFileSystems", "RestrictNamespaces",
    "RestrictNetworkInterfaces", "RestrictRealtime", "RestrictSUIDSGID", "RootDirectory",
    "RootHash", "RootHashSignature", "RootImage", "RootImageOptions", "RootVerity",
    "RuntimeDirectory", "RuntimeDirectoryMode", "RuntimeDirectoryPreserve", "SELinuxContext",
    "SecureBits", "SendSIGHUP", "SendSIGKILL", "SetCredential", "SetCredentialEncrypted", "Slice",
    "SmackProcessLabel", "SocketBindAllow", "SocketBindDeny", "StandardError", "StandardInput",
    "StandardInputData", "StandardInputText", "StandardOutput", "StartupAllowedCPUs",
    "StartupAllowedMemoryNodes", "StartupBlockIOWeight", "StartupCPUShares", "StartupCPUWeight",
    "StartupIOWeight", "StateDirectory", "StateDirectoryMode", "SupplementaryGroups",
    "SyslogFacility", "SyslogIdentifier", "SyslogLevel", "SyslogLevelPrefix",
    "SystemCallArchitectures", "SystemCallErrorNumber", "SystemCallFilter", "SystemCallLog",
    "TTYColumns", "TTYPath", "TTYReset", "TTYRows", "TTYVHangup", "TTYVTDisallocate",
    "TasksAccounting", "TasksMax", "TemporaryFileSystem", "TimeoutCleanSec", "TimeoutSec",
    "TimerSlackNSec", "UMask", "UnsetEnvironment", "User", "UtmpIdentifier", "UtmpMode",
    "WatchdogSignal", "WorkingDirectory",
];

/// `[Service]` keys besides [`EXEC_CONTEXT`].
#[rustfmt::skip]
pub(crate) const SERVICE: [&str; 46] = [
    "BusName", "BusPolicy", "ExecCondition", "ExecReload", "ExecStart", "ExecStop", "ExitType",
    "FailureAction", "FileDescriptorStoreMax", "GuessMainPID", "MemoryZSwapMax", "NonBlocking",
    "NotifyAccess", "OOMPolicy", "OpenFile", "PIDFile", "PermissionsStartOnly", "RebootArgument",
    "ReloadSignal", "RemainAfterExit", "Restart", "RestartForceExitStatus", "RestartMaxDelaySec",
    "RestartMode", "RestartPreventExitStatus", "RestartSec", "RestartSteps",
    "RootDirectoryStartOnly", "RuntimeMaxSec", "RuntimeRandomizedExtraSec", "Sockets",
    "StartLimitAction", "StartLimitBurst", "StartLimitInterval", "SuccessExitStatus",
    "SurviveFinalKillSignal", "SysVStartPriority", "TimeoutAbortSec", "TimeoutStartFailureMode",
    "TimeoutStartSec", "TimeoutStopFailureMode", "TimeoutStopSec", "Type", "USBFunctionDescriptors",
    "USBFunctionStrings", "WatchdogSec",
];

#[rustfmt::skip]
pub(crate) const TIMER: [&str; 16] = [
    "AccuracySec", "DeferReactivation", "FixedRandomDelay", "OnActiveSec", "OnBootSec",
    "OnCalendar", "OnClockChange", "OnStartupSec", "OnTimezoneChange", "OnUnitActiveSec",
    "OnUnitInactiveSec", "Persistent", "RandomizedDelaySec", "RemainAfterElapse", "Unit",
    "WakeSystem",
];

/// `[Socket]` keys besides [`EXEC_CONTEXT`].
#[rustfmt::skip]
pub(crate) const SOCKET: [&str; 57] = [
    "Accept", "Backlog", "BindToDevice", "Broadcast", "DeferAcceptSec", "DirectoryMode",
    "ExecStopPre", "FileDescriptorName", "FlushPending", "FreeBind", "IPTOS", "IPTTL", "KeepAlive",
    "KeepAliveIntervalSec", "KeepAliveProbes", "KeepAliveTimeSec", "ListenDatagram", "ListenFIFO",
    "ListenMessageQueue", "ListenNetlink", "ListenSequentialPacket", "ListenSpecial",
    "ListenStream", "ListenUSBFunction", "Mark", "MaxConnections", "MaxConnectionsPerSource",
    "MessageQueueMaxMessages", "MessageQueueMessageSize", "NoDelay", "PassCredentials",
    "PassPacketInfo", "PassSecurity", "PipeSize", "PollLimitBurst", "PollLimitIntervalSec",
    "Priority", "ReceiveBuffer", "RemoveOnStop", "ReusePort", "SELinuxContextFromNet", "SendBuffer",
    "Service", "SmackLabel", "SmackLabelIPIn", "SmackLabelIPOut", "SocketGroup", "SocketMode",
    "SocketProtocol", "SocketUser", "Symlinks", "TCPCongestion", "Timestamping", "Transparent",
    "TriggerLimitBurst", "TriggerLimitIntervalSec", "Writable",
];

#[rustfmt::skip]
pub(crate) const PATH: [&str; 10] = [
    "DirectoryMode", "DirectoryNotEmpty", "MakeDirectory", "PathChanged", "PathExists",
    "PathExistsGlob", "PathModified", "TriggerLimitBurst", "TriggerLimitIntervalSec", "Unit",
];

/// Whether systemd knows `key` in section `section` (`Unit`, `Service`, ...).
pub(crate) fn is_known(section: &str, key: &str) -> bool {
    let list: &[&str] = match section {
        "Unit" => &UNIT,
        "Install" => &INSTALL,
        "Service" => &SERVICE,
        "Timer" => &TIMER,
        "Socket" => &SOCKET,
        "Path" => &PATH,
        _ => return false,
    };
    let exec = matches!(section, "Service" | "Socket");
    list.binary_search(&key).is_ok() || (exec && EXEC_CONTEXT.binary_search(&key).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_for_binary_search() {
        for list in [
            &UNIT[..],
            &INSTALL,
            &EXEC_CONTEXT,
            &SERVICE,
            &TIMER,
            &SOCKET,
            &PATH,
        ] {
            assert!(list.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn lookups() {
        assert!(is_known("Service", "ProtectSystem"));
        assert!(is_known("Unit", "ConditionPathExists"));
        assert!(!is_known("Service", "Frobnicate"));
        assert!(is_known("Socket", "ProtectSystem"));
        assert!(is_known("Socket", "ListenStream") && !is_known("Service", "ListenStream"));
        assert!(!is_known("Timer", "ProtectSystem"));
    }
}
