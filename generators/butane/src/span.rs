//! Where in the source text: positions and ranges. Neutral ground for the
//! YAML reader and loader (which make them) and the diagnostics (which
//! carry and print them).

/// A position in the source: 1-based line and column (in characters, as
/// editors count them) and the character offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    pub offset: usize,
}

/// A source range: `start` inclusive, `end` exclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}
