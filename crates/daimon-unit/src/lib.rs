//! daimon-unit: the unit-file language.
//!
//! Owns: text -> typed units (`.service`, `.timer`, `.target`, `.socket`, `.path`),
//! diagnostics with file:line:column, value grammars, specifiers, calendar events,
//! drop-ins and template instantiation.
//!
//! Must never: spawn processes, open sockets, hold global state. It is pure: the
//! loader reads files, everything else works on bytes and strings.
