//! The `[Socket]` section and its listeners.

/// `[Socket]`, per systemd.socket(5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSection {
    /// Every `Listen*=` line in file order: the order of the descriptors the
    /// service gets (3, 4, ...).
    pub listen: Vec<Listen>,
    pub accept: bool,
    /// `Backlog=`; default SOMAXCONN (4096 on Linux 5.4+).
    pub backlog: u32,
    pub reuse_port: bool,
    pub bind_ipv6_only: BindIpv6Only,
    pub socket_user: Option<String>,
    pub socket_group: Option<String>,
    /// Default 0666.
    pub socket_mode: u32,
    /// `DirectoryMode=` of the parent directories it creates; default 0755.
    pub directory_mode: u32,
    /// `FileDescriptorName=`; default the socket unit's name.
    pub fd_name: Option<String>,
    /// `RemoveOnStop=`: unlink the socket files and FIFOs when the unit stops.
    pub remove_on_stop: bool,
    /// `MaxConnections=` (Accept=yes); default 64.
    pub max_connections: u32,
    /// The service to activate; defaults to the socket's name with `.service`.
    pub service: String,
}

/// What one `Listen*=` line opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenKind {
    Stream,
    Datagram,
    SequentialPacket,
    Fifo,
}

/// One `Listen*=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub kind: ListenKind,
    pub address: crate::value::listen::ListenAddress,
}

/// `BindIPv6Only=`: whether an IPv6 socket also takes IPv4 (IPV6_V6ONLY).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BindIpv6Only {
    /// The kernel's default (net.ipv6.bindv6only).
    #[default]
    Default,
    Both,
    Ipv6Only,
}
