//! daimon-journal: the log store.
//!
//! Owns: the record model, the segment files and their SQLite index, ingestion,
//! queries, follow, retention, output formats and time expressions.
//!
//! Must never: know about processes or units beyond a unit name; spawn threads of
//! its own that the daemon cannot see; depend on an async runtime.
