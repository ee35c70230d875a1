//! Which rule an alert state, an evaluation's health and a notification
//! belong to.

/// A rule's identity: where it comes from (a rule file's name, or `ui:`
/// and the name of a rule made in the UI), its group, its name and its
/// position among the group's rules of that name. Prometheus allows one
/// alert name several times in a group (one rule per severity is
/// common), so the name alone would let those rules overwrite each
/// other's alerts. Stored as a JSON array, so no part can be confused
/// with another whatever characters it holds.
pub fn rule_key(source: &str, group: &str, name: &str, position: usize) -> String {
    serde_json::to_string(&(source, group, name, position)).expect("strings serialise")
}

/// The source part of the keys of the UI rule named `name`.
pub fn ui_source(name: &str) -> String {
    format!("ui:{name}")
}

/// The rule name inside a key. Alert states stored before keys existed
/// are keyed by the bare name, which is returned as it is.
pub fn rule_name(key: &str) -> String {
    match parse_key(key) {
        Some((_, _, name, _)) => name,
        None => key.to_string(),
    }
}

/// The parts of a key: None for a bare name stored before keys existed.
pub fn parse_key(key: &str) -> Option<(String, String, String, usize)> {
    key.starts_with('[')
        .then(|| serde_json::from_str(key).ok())
        .flatten()
}
