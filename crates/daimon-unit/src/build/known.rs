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

#[rustfmt::skip]
pub(crate) const SERVICE: [&str; 254] = [
    "AllowedCPUs", "AllowedMemoryNodes", "AmbientCapabilities", "AppArmorProfile", "BPFProgram",
    "BindPaths", "BindReadOnlyPaths", "BlockIOAccounting", "BlockIODeviceWeight",
    "BlockIOReadBandwidth", "BlockIOWeight", "BlockIOWriteBandwidth", "BusName", "BusPolicy",
    "CPUAccounting", "CPUAffinity", "CPUQuota", "CPUQuotaPeriodSec", "CPUSchedulingPolicy",
    "CPUSchedulingPriority", "CPUSchedulingResetOnFork", "CPUShares", "CPUWeight",
    "CacheDirectory", "CacheDirectoryMode", "Capabilities", "CapabilityBoundingSet",
    "ConfigurationDirectory", "ConfigurationDirectoryMode", "CoredumpFilter", "DefaultMemoryLow",
    "DefaultMemoryMin", "Delegate", "DeviceAllow", "DevicePolicy", "DisableControllers",
    "DynamicUser", "Environment", "EnvironmentFile", "ExecCondition", "ExecPaths", "ExecReload",
    "ExecSearchPath", "ExecStart", "ExecStartPost", "ExecStartPre", "ExecStop", "ExecStopPost",
    "ExitType", "ExtensionDirectories", "ExtensionImages", "FailureAction",
    "FileDescriptorStoreMax", "FinalKillSignal", "Group", "GuessMainPID", "IOAccounting",
    "IODeviceLatencyTargetSec", "IODeviceWeight", "IOReadBandwidthMax", "IOReadIOPSMax",
    "IOSchedulingClass", "IOSchedulingPriority", "IOWeight", "IOWriteBandwidthMax",
    "IOWriteIOPSMax", "IPAccounting", "IPAddressAllow", "IPAddressDeny", "IPCNamespacePath",
    "IPEgressFilterPath", "IPIngressFilterPath", "IgnoreSIGPIPE", "InaccessibleDirectories",
    "InaccessiblePaths", "KeyringMode", "KillMode", "KillSignal", "LimitAS", "LimitCORE",
    "LimitCPU", "LimitDATA", "LimitFSIZE", "LimitLOCKS", "LimitMEMLOCK", "LimitMSGQUEUE",
    "LimitNICE", "LimitNOFILE", "LimitNPROC", "LimitRSS", "LimitRTPRIO", "LimitRTTIME",
    "LimitSIGPENDING", "LimitSTACK", "LoadCredential", "LoadCredentialEncrypted",
    "LockPersonality", "LogExtraFields", "LogLevelMax", "LogNamespace", "LogRateLimitBurst",
    "LogRateLimitIntervalSec", "LogsDirectory", "LogsDirectoryMode", "ManagedOOMMemoryPressure",
    "ManagedOOMMemoryPressureLimit", "ManagedOOMPreference", "ManagedOOMSwap", "MemoryAccounting",
    "MemoryDenyWriteExecute", "MemoryHigh", "MemoryLimit", "MemoryLow", "MemoryMax", "MemoryMin",
    "MemorySwapMax", "MemoryZSwapMax", "MountAPIVFS", "MountFlags", "MountImages", "NUMAMask",
    "NUMAPolicy", "NetClass", "NetworkNamespacePath", "Nice", "NoExecPaths", "NoNewPrivileges",
    "NonBlocking", "NotifyAccess", "OOMPolicy", "OOMScoreAdjust", "OpenFile", "PAMName", "PIDFile",
    "PassEnvironment", "PermissionsStartOnly", "Personality", "PrivateDevices", "PrivateIPC",
    "PrivateMounts", "PrivateNetwork", "PrivateTmp", "PrivateUsers", "ProcSubset", "ProtectClock",
    "ProtectControlGroups", "ProtectHome", "ProtectHostname", "ProtectKernelLogs",
    "ProtectKernelModules", "ProtectKernelTunables", "ProtectProc", "ProtectSystem",
    "ReadOnlyDirectories", "ReadOnlyPaths", "ReadWriteDirectories", "ReadWritePaths",
    "RebootArgument", "ReloadSignal", "RemainAfterExit", "RemoveIPC", "Restart",
    "RestartForceExitStatus", "RestartKillSignal", "RestartMaxDelaySec", "RestartMode",
    "RestartPreventExitStatus", "RestartSec", "RestartSteps", "RestrictAddressFamilies",
    "RestrictFileSystems", "RestrictNamespaces", "RestrictNetworkInterfaces", "RestrictRealtime",
    "RestrictSUIDSGID", "RootDirectory", "RootDirectoryStartOnly", "RootHash", "RootHashSignature",
    "RootImage", "RootImageOptions", "RootVerity", "RuntimeDirectory", "RuntimeDirectoryMode",
    "RuntimeDirectoryPreserve", "RuntimeMaxSec", "RuntimeRandomizedExtraSec", "SELinuxContext",
    "SecureBits", "SendSIGHUP", "SendSIGKILL", "SetCredential", "SetCredentialEncrypted", "Slice",
    "SmackProcessLabel", "SocketBindAllow", "SocketBindDeny", "Sockets", "StandardError",
    "StandardInput", "StandardInputData", "StandardInputText", "StandardOutput",
    "StartLimitAction", "StartLimitBurst", "StartLimitInterval", "StartupAllowedCPUs",
    "StartupAllowedMemoryNodes", "StartupBlockIOWeight", "StartupCPUShares", "StartupCPUWeight",
    "StartupIOWeight", "StateDirectory", "StateDirectoryMode", "SuccessExitStatus",
    "SupplementaryGroups", "SurviveFinalKillSignal", "SysVStartPriority", "SyslogFacility",
    "SyslogIdentifier", "SyslogLevel", "SyslogLevelPrefix", "SystemCallArchitectures",
    "SystemCallErrorNumber", "SystemCallFilter", "SystemCallLog", "TTYColumns", "TTYPath",
    "TTYReset", "TTYRows", "TTYVHangup", "TTYVTDisallocate", "TasksAccounting", "TasksMax",
    "TemporaryFileSystem", "TimeoutAbortSec", "TimeoutCleanSec", "TimeoutSec",
    "TimeoutStartFailureMode", "TimeoutStartSec", "TimeoutStopFailureMode", "TimeoutStopSec",
    "TimerSlackNSec", "Type", "UMask", "USBFunctionDescriptors", "USBFunctionStrings",
    "UnsetEnvironment", "User", "UtmpIdentifier", "UtmpMode", "WatchdogSec", "WatchdogSignal",
    "WorkingDirectory",
];

#[rustfmt::skip]
pub(crate) const TIMER: [&str; 16] = [
    "AccuracySec", "DeferReactivation", "FixedRandomDelay", "OnActiveSec", "OnBootSec",
    "OnCalendar", "OnClockChange", "OnStartupSec", "OnTimezoneChange", "OnUnitActiveSec",
    "OnUnitInactiveSec", "Persistent", "RandomizedDelaySec", "RemainAfterElapse", "Unit",
    "WakeSystem",
];

#[rustfmt::skip]
pub(crate) const SOCKET: [&str; 265] = [
    "Accept", "AllowedCPUs", "AllowedMemoryNodes", "AmbientCapabilities", "AppArmorProfile",
    "BPFProgram", "Backlog", "BindPaths", "BindReadOnlyPaths", "BindToDevice", "BlockIOAccounting",
    "BlockIODeviceWeight", "BlockIOReadBandwidth", "BlockIOWeight", "BlockIOWriteBandwidth",
    "Broadcast", "CPUAccounting", "CPUAffinity", "CPUQuota", "CPUQuotaPeriodSec",
    "CPUSchedulingPolicy", "CPUSchedulingPriority", "CPUSchedulingResetOnFork", "CPUShares",
    "CPUWeight", "CacheDirectory", "CacheDirectoryMode", "Capabilities", "CapabilityBoundingSet",
    "ConfigurationDirectory", "ConfigurationDirectoryMode", "CoredumpFilter", "DefaultMemoryLow",
    "DefaultMemoryMin", "DeferAcceptSec", "Delegate", "DeviceAllow", "DevicePolicy",
    "DirectoryMode", "DisableControllers", "DynamicUser", "Environment", "EnvironmentFile",
    "ExecPaths", "ExecSearchPath", "ExecStartPost", "ExecStartPre", "ExecStopPost", "ExecStopPre",
    "ExtensionDirectories", "ExtensionImages", "FileDescriptorName", "FinalKillSignal",
    "FlushPending", "FreeBind", "Group", "IOAccounting", "IODeviceLatencyTargetSec",
    "IODeviceWeight", "IOReadBandwidthMax", "IOReadIOPSMax", "IOSchedulingClass",
    "IOSchedulingPriority", "IOWeight", "IOWriteBandwidthMax", "IOWriteIOPSMax", "IPAccounting",
    "IPAddressAllow", "IPAddressDeny", "IPCNamespacePath", "IPEgressFilterPath",
    "IPIngressFilterPath", "IPTOS", "IPTTL", "IgnoreSIGPIPE", "InaccessibleDirectories",
    "InaccessiblePaths", "KeepAlive", "KeepAliveIntervalSec", "KeepAliveProbes",
    "KeepAliveTimeSec", "KeyringMode", "KillMode", "KillSignal", "LimitAS", "LimitCORE",
    "LimitCPU", "LimitDATA", "LimitFSIZE", "LimitLOCKS", "LimitMEMLOCK", "LimitMSGQUEUE",
    "LimitNICE", "LimitNOFILE", "LimitNPROC", "LimitRSS", "LimitRTPRIO", "LimitRTTIME",
    "LimitSIGPENDING", "LimitSTACK", "ListenDatagram", "ListenFIFO", "ListenMessageQueue",
    "ListenNetlink", "ListenSequentialPacket", "ListenSpecial", "ListenStream",
    "ListenUSBFunction", "LoadCredential", "LoadCredentialEncrypted", "LockPersonality",
    "LogExtraFields", "LogLevelMax", "LogNamespace", "LogRateLimitBurst",
    "LogRateLimitIntervalSec", "LogsDirectory", "LogsDirectoryMode", "ManagedOOMMemoryPressure",
    "ManagedOOMMemoryPressureLimit", "ManagedOOMPreference", "ManagedOOMSwap", "Mark",
    "MaxConnections", "MaxConnectionsPerSource", "MemoryAccounting", "MemoryDenyWriteExecute",
    "MemoryHigh", "MemoryLimit", "MemoryLow", "MemoryMax", "MemoryMin", "MemorySwapMax",
    "MessageQueueMaxMessages", "MessageQueueMessageSize", "MountAPIVFS", "MountFlags",
    "MountImages", "NUMAMask", "NUMAPolicy", "NetClass", "NetworkNamespacePath", "Nice", "NoDelay",
    "NoExecPaths", "NoNewPrivileges", "OOMScoreAdjust", "PAMName", "PassCredentials",
    "PassEnvironment", "PassPacketInfo", "PassSecurity", "Personality", "PipeSize",
    "PollLimitBurst", "PollLimitIntervalSec", "Priority", "PrivateDevices", "PrivateIPC",
    "PrivateMounts", "PrivateNetwork", "PrivateTmp", "PrivateUsers", "ProcSubset", "ProtectClock",
    "ProtectControlGroups", "ProtectHome", "ProtectHostname", "ProtectKernelLogs",
    "ProtectKernelModules", "ProtectKernelTunables", "ProtectProc", "ProtectSystem",
    "ReadOnlyDirectories", "ReadOnlyPaths", "ReadWriteDirectories", "ReadWritePaths",
    "ReceiveBuffer", "RemoveIPC", "RemoveOnStop", "RestartKillSignal", "RestrictAddressFamilies",
    "RestrictFileSystems", "RestrictNamespaces", "RestrictNetworkInterfaces", "RestrictRealtime",
    "RestrictSUIDSGID", "ReusePort", "RootDirectory", "RootHash", "RootHashSignature", "RootImage",
    "RootImageOptions", "RootVerity", "RuntimeDirectory", "RuntimeDirectoryMode",
    "RuntimeDirectoryPreserve", "SELinuxContext", "SELinuxContextFromNet", "SecureBits",
    "SendBuffer", "SendSIGHUP", "SendSIGKILL", "Service", "SetCredential",
    "SetCredentialEncrypted", "Slice", "SmackLabel", "SmackLabelIPIn", "SmackLabelIPOut",
    "SmackProcessLabel", "SocketBindAllow", "SocketBindDeny", "SocketGroup", "SocketMode",
    "SocketProtocol", "SocketUser", "StandardError", "StandardInput", "StandardInputData",
    "StandardInputText", "StandardOutput", "StartupAllowedCPUs", "StartupAllowedMemoryNodes",
    "StartupBlockIOWeight", "StartupCPUShares", "StartupCPUWeight", "StartupIOWeight",
    "StateDirectory", "StateDirectoryMode", "SupplementaryGroups", "Symlinks", "SyslogFacility",
    "SyslogIdentifier", "SyslogLevel", "SyslogLevelPrefix", "SystemCallArchitectures",
    "SystemCallErrorNumber", "SystemCallFilter", "SystemCallLog", "TCPCongestion", "TTYColumns",
    "TTYPath", "TTYReset", "TTYRows", "TTYVHangup", "TTYVTDisallocate", "TasksAccounting",
    "TasksMax", "TemporaryFileSystem", "TimeoutCleanSec", "TimeoutSec", "TimerSlackNSec",
    "Timestamping", "Transparent", "TriggerLimitBurst", "TriggerLimitIntervalSec", "UMask",
    "UnsetEnvironment", "User", "UtmpIdentifier", "UtmpMode", "WatchdogSignal", "WorkingDirectory",
    "Writable",
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
    list.binary_search(&key).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_for_binary_search() {
        for list in [&UNIT[..], &INSTALL, &SERVICE, &TIMER, &SOCKET, &PATH] {
            assert!(list.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn lookups() {
        assert!(is_known("Service", "ProtectSystem"));
        assert!(is_known("Unit", "ConditionPathExists"));
        assert!(!is_known("Service", "Frobnicate"));
    }
}
