//! When a unit last crossed each boundary of its active state, for `show`'s
//! `InactiveExitTimestamp`, `ActiveEnterTimestamp`, `ActiveExitTimestamp`,
//! `InactiveEnterTimestamp` and `StateChangeTimestamp` (systemd's
//! `unit_update_timestamps()`: "active" counts `active` and `reloading`,
//! "inactive" counts `inactive` and `failed`).

use daimon_proto::ActiveState;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamps {
    pub inactive_exit: Option<jiff::Timestamp>,
    pub active_enter: Option<jiff::Timestamp>,
    pub active_exit: Option<jiff::Timestamp>,
    pub inactive_enter: Option<jiff::Timestamp>,
    pub state_change: Option<jiff::Timestamp>,
}

fn is_active(s: ActiveState) -> bool {
    matches!(s, ActiveState::Active | ActiveState::Reloading)
}

fn is_inactive(s: ActiveState) -> bool {
    matches!(s, ActiveState::Inactive | ActiveState::Failed)
}

impl Stamps {
    /// The unit's active state went from `before` to `after` at `at`.
    pub fn record(&mut self, before: ActiveState, after: ActiveState, at: jiff::Timestamp) {
        if before == after {
            return;
        }
        self.state_change = Some(at);
        if is_inactive(before) && !is_inactive(after) {
            self.inactive_exit = Some(at);
        } else if !is_inactive(before) && is_inactive(after) {
            self.inactive_enter = Some(at);
        }
        if !is_active(before) && is_active(after) {
            self.active_enter = Some(at);
        } else if is_active(before) && !is_active(after) {
            self.active_exit = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ActiveState::*;

    #[test]
    fn a_run_sets_each_boundary_once() {
        let t = |s| jiff::Timestamp::from_second(s).expect("timestamp");
        let mut st = Stamps::default();
        st.record(Inactive, Activating, t(1));
        st.record(Activating, Active, t(2));
        st.record(Active, Reloading, t(3));
        st.record(Reloading, Active, t(4));
        st.record(Active, Deactivating, t(5));
        st.record(Deactivating, Failed, t(6));
        assert_eq!(st.inactive_exit, Some(t(1)));
        assert_eq!(st.active_enter, Some(t(2)));
        assert_eq!(st.active_exit, Some(t(5)));
        assert_eq!(st.inactive_enter, Some(t(6)));
        assert_eq!(st.state_change, Some(t(6)));
    }
}
