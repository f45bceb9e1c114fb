//! Reports for the tools people read them with: SARIF for code scanning ([`sarif`]), JUnit XML
//! for CI ([`junit`]), and a self-contained HTML page ([`html`]) that `analyze -o html` writes
//! and the operator's dashboard serves.

pub mod html;
pub mod junit;
pub mod sarif;
