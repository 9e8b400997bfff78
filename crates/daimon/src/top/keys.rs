//! What each key does to the [`View`], and what it asks of the world (a job,
//! an attach, the detail of a unit) as an [`Action`] for the main loop. Pure,
//! so the bindings are tested here without a terminal.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::feed::Verb;
use super::view::{LogPane, Prompt, View};

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    Job(Verb, String),
    Attach(String),
    /// Open the detail view of this unit.
    Detail(String),
    /// Ctrl-L: read every row again and repaint the whole screen.
    Reload,
}

/// Applies `key`; `page` is how many rows PageUp/PageDown move.
pub fn on_key(view: &mut View, key: KeyEvent, page: usize) -> Action {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Action::Quit;
    }
    match view.prompt.clone() {
        Prompt::Filter => {
            edit(&mut view.filter, &mut view.prompt, key);
            let keep = view.selected_name();
            view.reselect(keep.as_deref());
            return Action::None;
        }
        Prompt::Search => {
            let mut prompt = view.prompt.clone();
            if let Some(p) = view.logs.as_mut() {
                edit(&mut p.search, &mut prompt, key);
            } else {
                prompt = Prompt::Keys;
            }
            view.prompt = prompt;
            return Action::None;
        }
        Prompt::ConfirmStop(unit) => {
            view.prompt = Prompt::Keys;
            if key.code == KeyCode::Char('y') || key.code == KeyCode::Char('Y') {
                view.message = Some(format!("{} {unit}…", Verb::Stop.doing()));
                return Action::Job(Verb::Stop, unit);
            }
            view.message = Some(format!("stop of {unit} cancelled"));
            return Action::None;
        }
        Prompt::Keys => {}
    }
    view.message = None;
    if ctrl {
        return match key.code {
            KeyCode::Char('l') => Action::Reload,
            _ => Action::None,
        };
    }
    // The unit the verbs act on: the detail's, else the selected row's.
    let target = match &view.detail {
        Some(d) => Some(d.unit.clone()),
        None => view.selected_name(),
    };
    let page = page.max(1) as isize;
    match key.code {
        KeyCode::Char('q') => return Action::Quit,
        KeyCode::Esc | KeyCode::Enter if view.detail.is_some() => view.detail = None,
        KeyCode::Enter => {
            if let Some(u) = target {
                return Action::Detail(u);
            }
        }
        KeyCode::Char('j') | KeyCode::Down => view.move_by(1),
        KeyCode::Char('k') | KeyCode::Up => view.move_by(-1),
        KeyCode::PageDown => view.move_by(page),
        KeyCode::PageUp => view.move_by(-page),
        KeyCode::Home | KeyCode::Char('g') => view.move_by(isize::MIN / 2),
        KeyCode::End | KeyCode::Char('G') => view.move_by(isize::MAX / 2),
        KeyCode::Char('/') => view.prompt = Prompt::Filter,
        KeyCode::Char('?') => {
            if view.logs.is_some() {
                view.prompt = Prompt::Search;
            } else {
                view.message = Some("? searches the log pane: open it with l first".into());
            }
        }
        KeyCode::Char('o') => {
            let keep = view.selected_name();
            view.sort = view.sort.next();
            view.reselect(keep.as_deref());
        }
        KeyCode::Char('l') => {
            view.logs = match (&view.logs, target) {
                (None, Some(unit)) => Some(LogPane {
                    unit,
                    ..LogPane::default()
                }),
                _ => None,
            };
        }
        KeyCode::Char(c @ ('s' | 'S' | 'r' | 'R' | 'a')) => {
            let Some(unit) = target else {
                return Action::None;
            };
            let verb = match c {
                's' => Verb::Start,
                'r' => Verb::Restart,
                'R' => Verb::Reload,
                'S' => {
                    view.prompt = Prompt::ConfirmStop(unit);
                    return Action::None;
                }
                _ => return Action::Attach(unit),
            };
            view.message = Some(format!("{} {unit}…", verb.doing()));
            return Action::Job(verb, unit);
        }
        _ => {}
    }
    Action::None
}

/// Typing into a prompt's text: Enter keeps it, Esc clears it, Backspace
/// deletes.
fn edit(text: &mut String, prompt: &mut Prompt, key: KeyEvent) {
    match key.code {
        KeyCode::Enter => *prompt = Prompt::Keys,
        KeyCode::Esc => {
            *prompt = Prompt::Keys;
            text.clear();
        }
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char(c) if !c.is_control() => text.push(c),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daimon_proto::{ActiveState, UnitRow};

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c))
    }

    fn view(names: &[&str]) -> View {
        let mut v = View::new();
        let rows = names
            .iter()
            .map(|n| UnitRow {
                name: n.to_string(),
                description: None,
                load_state: "loaded".into(),
                state: ActiveState::Active,
                sub_state: "running".into(),
                pid: None,
                restarts: 0,
                since_sec: None,
                memory_bytes: None,
                cpu_usec: None,
            })
            .collect();
        v.update(rows, 0);
        v
    }

    #[test]
    fn stop_asks_first() {
        let mut v = view(&["a.service"]);
        assert_eq!(on_key(&mut v, ch('S'), 10), Action::None);
        assert_eq!(v.prompt, Prompt::ConfirmStop("a.service".into()));
        assert_eq!(on_key(&mut v, ch('n'), 10), Action::None);
        assert_eq!(v.message.as_deref(), Some("stop of a.service cancelled"));
        on_key(&mut v, ch('S'), 10);
        assert_eq!(
            on_key(&mut v, ch('y'), 10),
            Action::Job(Verb::Stop, "a.service".into())
        );
    }

    #[test]
    fn the_filter_is_typed_kept_and_cleared() {
        let mut v = view(&["a.service", "b.service"]);
        for k in [ch('/'), ch('b'), key(KeyCode::Enter)] {
            on_key(&mut v, k, 10);
        }
        assert_eq!(v.filter, "b");
        assert_eq!(v.selected_name().as_deref(), Some("b.service"));
        on_key(&mut v, ch('/'), 10);
        on_key(&mut v, key(KeyCode::Esc), 10);
        assert_eq!(v.filter, "");
        assert_eq!(v.prompt, Prompt::Keys);
    }

    #[test]
    fn search_needs_the_pane_and_edits_its_search() {
        let mut v = view(&["a.service"]);
        on_key(&mut v, ch('?'), 10);
        assert_eq!(v.prompt, Prompt::Keys);
        assert!(v.message.as_deref().is_some_and(|m| m.contains("with l")));
        on_key(&mut v, ch('l'), 10);
        for k in [
            ch('?'),
            ch('e'),
            ch('r'),
            key(KeyCode::Backspace),
            key(KeyCode::Enter),
        ] {
            on_key(&mut v, k, 10);
        }
        assert_eq!(v.logs.as_ref().map(|p| p.search.as_str()), Some("e"));
    }

    #[test]
    fn enter_opens_the_detail_and_its_keys_act_on_that_unit() {
        let mut v = view(&["a.service", "b.service"]);
        assert_eq!(
            on_key(&mut v, key(KeyCode::Enter), 10),
            Action::Detail("a.service".into())
        );
        v.detail = Some(super::super::view::Detail {
            unit: "a.service".into(),
            lines: vec![],
        });
        assert_eq!(
            on_key(&mut v, ch('r'), 10),
            Action::Job(Verb::Restart, "a.service".into())
        );
        assert_eq!(
            on_key(&mut v, ch('a'), 10),
            Action::Attach("a.service".into())
        );
        on_key(&mut v, key(KeyCode::Esc), 10);
        assert!(v.detail.is_none());
    }

    #[test]
    fn ctrl_c_quits_even_in_a_prompt() {
        let mut v = view(&["a.service"]);
        on_key(&mut v, ch('/'), 10);
        let k = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(on_key(&mut v, k, 10), Action::Quit);
    }
}
