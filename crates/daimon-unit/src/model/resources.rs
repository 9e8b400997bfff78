//! Value types of systemd.resource-control(5) that have no better home.

/// `TasksMax=`: how many tasks (processes and threads) the unit may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TasksMax {
    Count(u64),
    /// Of the system's maximum (the smaller of kernel.pid_max and
    /// kernel.threads-max), in hundredths of a percent (`10%` = 1000).
    Percent(u32),
    Infinity,
}
