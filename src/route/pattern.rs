//! Segment-based path patterns for route allowlists (`/crm/v*/Leads/**`).
//!
//! Threat model: an allowlist is only as strong as the string it is matched
//! against, so patterns match [`CanonicalPath`] values only (the very string
//! forwarded upstream) and must themselves be written in canonical form: no
//! pattern can hold a spelling the canonicaliser would rewrite or reject.
//! Matching is case-sensitive and polynomial (no exponential backtracking), so
//! a hostile path cannot stall the matcher.
//!
//! Pattern language (segments between `/`):
//!
//! * a literal such as `Leads` matches exactly that segment;
//! * `*` matches exactly one (non-empty) segment;
//! * a segment containing `*` with other characters is a glob within one
//!   segment, each `*` matching any run of characters, possibly empty
//!   (`v*` matches `v2`, `v8` and `v`);
//! * `**` as a whole segment matches zero or more whole segments; it may occur
//!   anywhere and more than once. `/**` matches every path including `/`, and
//!   `/crm/**` matches `/crm`, `/crm/v2` and `/crm/v2/Leads/1`;
//! * the pattern `/` matches only the root path.

use std::fmt;
use std::str::FromStr;

use crate::canon::{canonicalize, CanonicalPath, PathError};

/// A parsed path pattern; see the module documentation for the language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    /// The pattern as written.
    text: String,
    /// One entry per segment of the pattern (empty for `/`).
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matches exactly this segment text.
    Literal(String),
    /// A single-segment glob where each `*` matches any run of characters.
    Glob(String),
    /// `**`: zero or more whole segments.
    AnySegments,
}

/// Why a path pattern was rejected (a configuration error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern does not start with `/`.
    #[error("path pattern {pattern:?} must start with '/'")]
    NotAbsolute {
        /// The pattern as written.
        pattern: String,
    },
    /// `//` somewhere, or a trailing `/` after a non-root pattern.
    #[error(
        "path pattern {pattern:?} has an empty segment ('//' or a trailing '/'); \
         every segment must be non-empty (use '/**' to match deeper paths)"
    )]
    EmptySegment {
        /// The pattern as written.
        pattern: String,
    },
    /// `**` combined with other characters in one segment (`a**`, `***`).
    #[error(
        "pattern segment {segment:?} mixes '**' with other characters; '**' must be a \
         whole segment, use a single '*' to match within a segment"
    )]
    MixedDoubleStar {
        /// The offending segment.
        segment: String,
    },
    /// A segment that would be rejected as a request path segment.
    #[error("pattern segment {segment:?} is invalid: {reason}")]
    InvalidSegment {
        /// The offending segment.
        segment: String,
        /// Why the canonicaliser rejects it.
        reason: PathError,
    },
    /// A segment that is valid but not in canonical form, so it could never
    /// match the canonical path it was meant for.
    #[error("pattern segment {segment:?} is not canonical, write {canonical:?}")]
    NotCanonical {
        /// The offending segment.
        segment: String,
        /// The same segment in canonical form.
        canonical: String,
    },
}

impl PathPattern {
    /// Parses and validates a pattern such as `/crm/v*/Leads/**`.
    ///
    /// # Errors
    ///
    /// A [`PatternError`] if the pattern is not absolute, has an empty
    /// segment, misuses `**`, or has a segment that is invalid or not in
    /// canonical form as a request path segment.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err(PatternError::NotAbsolute {
                pattern: pattern.to_owned(),
            });
        };
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for segment in rest.split('/') {
                segments.push(parse_segment(pattern, segment)?);
            }
        }
        Ok(PathPattern {
            text: pattern.to_owned(),
            segments,
        })
    }

    /// Whether `path` matches this pattern (case-sensitive, segment-wise).
    ///
    /// Simulates the set of reachable pattern positions while reading the
    /// path segments once: O(path segments x pattern segments x glob cost)
    /// time, no backtracking across segments. The set is a bit mask (no
    /// allocation) for patterns of fewer than 128 segments, two flag vectors
    /// beyond.
    #[must_use]
    pub fn matches(&self, path: &CanonicalPath) -> bool {
        if self.segments.len() < 128 {
            self.matches_bits(path)
        } else {
            self.matches_long(path)
        }
    }

    /// [`PathPattern::matches`] with the state set in a `u128`: bit j set
    /// when the path segments read so far can be matched by the first j
    /// pattern segments.
    fn matches_bits(&self, path: &CanonicalPath) -> bool {
        let pattern = &self.segments;
        let last = 1u128 << pattern.len();
        let mut current = self.close_bits(1);
        for segment in path.segments() {
            let mut next = 0u128;
            // The final state has nothing left to consume a segment with.
            let mut active = current & (last - 1);
            while active != 0 {
                let j = active.trailing_zeros() as usize;
                active &= active - 1;
                next |= match pattern.get(j) {
                    // `**` consumes this segment and stays where it is.
                    Some(Segment::AnySegments) => 1 << j,
                    Some(Segment::Literal(literal)) if literal == segment => 1 << (j + 1),
                    Some(Segment::Glob(glob))
                        if glob_match(glob.as_bytes(), segment.as_bytes()) =>
                    {
                        1 << (j + 1)
                    }
                    _ => 0,
                };
            }
            current = self.close_bits(next);
            if current == 0 {
                return false;
            }
        }
        current & last != 0
    }

    /// Epsilon closure on a bit set: a `**` at position j may match zero
    /// segments, so state j implies state j+1 (in ascending order, so it
    /// propagates through consecutive `**`).
    fn close_bits(&self, mut states: u128) -> u128 {
        for (j, pat) in self.segments.iter().enumerate() {
            if *pat == Segment::AnySegments && states & (1 << j) != 0 {
                states |= 1 << (j + 1);
            }
        }
        states
    }

    /// [`PathPattern::matches`] for patterns too long for a bit set.
    fn matches_long(&self, path: &CanonicalPath) -> bool {
        let pattern = &self.segments;
        // current[j]: the path segments read so far can be matched by the
        // first j pattern segments.
        let mut current = vec![false; pattern.len() + 1];
        let mut next = vec![false; pattern.len() + 1];
        if let Some(start) = current.first_mut() {
            *start = true;
        }
        skip_any_segments(pattern, &mut current);

        for segment in path.segments() {
            next.fill(false);
            // `zip` stops at the last pattern segment: the final state has
            // nothing left to consume a segment with.
            for (j, (pat, &active)) in pattern.iter().zip(current.iter()).enumerate() {
                if !active {
                    continue;
                }
                let target = match pat {
                    // `**` consumes this segment and stays where it is.
                    Segment::AnySegments => j,
                    Segment::Literal(literal) if literal == segment => j + 1,
                    Segment::Glob(glob) if glob_match(glob.as_bytes(), segment.as_bytes()) => j + 1,
                    _ => continue,
                };
                if let Some(state) = next.get_mut(target) {
                    *state = true;
                }
            }
            skip_any_segments(pattern, &mut next);
            std::mem::swap(&mut current, &mut next);
            if !current.contains(&true) {
                return false;
            }
        }
        current.last().copied().unwrap_or(false)
    }

    /// The literal segments every matching path has at the same position:
    /// the literals before the first `**` (each segment before it matches
    /// exactly one path segment), with their positions. The route table
    /// indexes routes by them ([`crate::segment_index`]).
    #[must_use]
    pub fn fixed_literals(&self) -> Vec<(usize, &str)> {
        self.segments
            .iter()
            .take_while(|s| **s != Segment::AnySegments)
            .enumerate()
            .filter_map(|(i, s)| match s {
                Segment::Literal(l) => Some((i, l.as_str())),
                _ => None,
            })
            .collect()
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for PathPattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Epsilon closure: a `**` at position j may match zero segments, so state j
/// implies state j+1. Forward order propagates through consecutive `**`.
fn skip_any_segments(pattern: &[Segment], states: &mut [bool]) {
    for (j, pat) in pattern.iter().enumerate() {
        if *pat == Segment::AnySegments && states.get(j).copied().unwrap_or(false) {
            if let Some(next) = states.get_mut(j + 1) {
                *next = true;
            }
        }
    }
}

fn parse_segment(pattern: &str, segment: &str) -> Result<Segment, PatternError> {
    if segment.is_empty() {
        return Err(PatternError::EmptySegment {
            pattern: pattern.to_owned(),
        });
    }
    if segment == "**" {
        return Ok(Segment::AnySegments);
    }
    if segment.contains("**") {
        return Err(PatternError::MixedDoubleStar {
            segment: segment.to_owned(),
        });
    }
    let is_glob = segment.contains('*');
    // Each literal run between `*` is checked on its own, so a `*` can never
    // complete or split a percent-escape (`%2*` is rejected).
    let mut canonical = String::with_capacity(segment.len());
    for (i, run) in segment.split('*').enumerate() {
        if i > 0 {
            canonical.push('*');
        }
        let run = canonical_run(run, is_glob).map_err(|reason| PatternError::InvalidSegment {
            segment: segment.to_owned(),
            reason,
        })?;
        canonical.push_str(&run);
    }
    if canonical != segment {
        return Err(PatternError::NotCanonical {
            segment: segment.to_owned(),
            canonical,
        });
    }
    Ok(if is_glob {
        Segment::Glob(canonical)
    } else {
        Segment::Literal(canonical)
    })
}

/// The canonical spelling of a literal run of a pattern segment (the whole
/// segment if it has no `*`), judged by the request-path canonicaliser.
fn canonical_run(run: &str, in_glob: bool) -> Result<String, PathError> {
    if run.is_empty() {
        // Only possible next to a `*` (a whole empty segment is rejected
        // before), where it is simply the empty run.
        return Ok(String::new());
    }
    match canonicalize(&format!("/{run}")) {
        Ok(path) => Ok(path.as_str().get(1..).unwrap_or("").to_owned()),
        // In a glob, `.` or `..` is only part of a segment (`.*` matches
        // `.well-known`), so it is not a dot segment; `%2E` still has to be
        // written `.`.
        Err(PathError::DotSegment { decoded, .. }) if in_glob => Ok(decoded.to_owned()),
        Err(reason) => Err(reason),
    }
}

/// Wildcard match within one segment: `*` matches any run of bytes (possibly
/// empty), every other byte matches itself. Greedy with single-point
/// backtracking: O(len(glob) x len(text)) worst case, no recursion.
fn glob_match(glob: &[u8], text: &[u8]) -> bool {
    let (mut g, mut t) = (0, 0);
    // Position of the last `*` seen in `glob`, and where in `text` it
    // started matching.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match glob.get(g) {
            Some(b'*') => {
                star = Some((g, t));
                g += 1;
            }
            Some(c) if text.get(t) == Some(c) => {
                g += 1;
                t += 1;
            }
            _ => match star {
                Some((star_g, star_t)) => {
                    // Let the last `*` swallow one more byte and retry.
                    g = star_g + 1;
                    t = star_t + 1;
                    star = Some((star_g, star_t + 1));
                }
                None => return false,
            },
        }
    }
    glob.get(g..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> PathPattern {
        match PathPattern::parse(text) {
            Ok(p) => p,
            Err(e) => panic!("pattern {text:?} rejected: {e}"),
        }
    }

    fn path(text: &str) -> CanonicalPath {
        match canonicalize(text) {
            Ok(p) => p,
            Err(e) => panic!("path {text:?} rejected: {e}"),
        }
    }

    #[test]
    fn matching_table() {
        let cases: &[(&str, &str, bool)] = &[
            // Root and literals.
            ("/", "/", true),
            ("/", "/a", false),
            ("/crm", "/", false),
            ("/crm", "/crm", true),
            ("/crm", "/crmx", false),
            ("/crm", "/crm/v2", false),
            ("/crm/v2/Leads", "/crm/v2/Leads", true),
            ("/crm/v2/Leads", "/crm/v2", false),
            ("/crm/v2/Leads", "/crm/v2/Leads/1", false),
            ("/crm/v2/Leads", "/crm/v2/Lead", false),
            ("/%C3%A9", "/%c3%a9", true),
            ("/Leads", "/%4Ceads", true),
            // Case sensitivity.
            ("/crm/v*/Leads/**", "/crm/v2/leads", false),
            ("/crm/v*/Leads/**", "/CRM/v2/Leads", false),
            ("/crm/v*/Leads/**", "/crm/V2/Leads", false),
            ("/crm/v*/Leads/**", "/crm/v2/Leads", true),
            ("/crm/v*/Leads/**", "/crm/v8/Leads/123/Notes", true),
            // `*`: exactly one non-empty segment.
            ("/crm/*/Leads", "/crm/v2/Leads", true),
            ("/crm/*/Leads", "/crm/Leads", false),
            ("/crm/*/Leads", "/crm/v2/x/Leads", false),
            ("/*", "/", false),
            ("/*", "/a", true),
            ("/*", "/a/b", false),
            ("/*/*", "/a/b", true),
            ("/*/*", "/a", false),
            // Globs within one segment.
            ("/crm/v*", "/crm/v2", true),
            ("/crm/v*", "/crm/v8", true),
            ("/crm/v*", "/crm/v", true),
            ("/crm/v*", "/crm/x2", false),
            ("/crm/v*", "/crm/v2/Leads", false),
            ("/*__s", "/Deals__s", true),
            ("/*__s", "/__s", true),
            ("/*__s", "/Deals__x", false),
            ("/*__s", "/Deals__s__t", false),
            ("/a*b*c", "/abc", true),
            ("/a*b*c", "/aXbYc", true),
            ("/a*b*c", "/abbbcbc", true),
            ("/a*b*c", "/acb", false),
            ("/a*b*c", "/abcd", false),
            ("/*a*", "/a", true),
            ("/*a*", "/bab", true),
            ("/*a*", "/bbb", false),
            ("/.*", "/.well-known", true),
            ("/.*", "/x.y", false),
            ("/*.json", "/data.json", true),
            ("/*.json", "/data.jsonx", false),
            ("/%C3%A9*", "/%C3%A9t%C3%A9", true),
            // `**` at the end.
            ("/**", "/", true),
            ("/**", "/a", true),
            ("/**", "/a/b/c/d", true),
            ("/crm/**", "/crm", true),
            ("/crm/**", "/crm/v2", true),
            ("/crm/**", "/crm/v2/Leads/1", true),
            ("/crm/**", "/", false),
            ("/crm/**", "/crmx/v2", false),
            ("/crm/**", "/books/crm", false),
            // `**` at the start and in the middle.
            ("/**/Notes", "/Notes", true),
            ("/**/Notes", "/crm/v2/Leads/1/Notes", true),
            ("/**/Notes", "/crm/v2/Leads/1/Notes/2", false),
            ("/crm/**/Notes", "/crm/Notes", true),
            ("/crm/**/Notes", "/crm/v2/Leads/1/Notes", true),
            ("/crm/**/Notes", "/books/v2/Notes", false),
            ("/crm/**/Notes", "/crm/v2/Notes/x", false),
            // Repeated `**`.
            ("/**/**", "/", true),
            ("/**/**", "/a/b", true),
            ("/**/a/**", "/a", true),
            ("/**/a/**", "/x/a/y", true),
            ("/**/a/**", "/x/b/y", false),
            ("/**/a/**/b/**/c", "/a/b/c", true),
            ("/**/a/**/b/**/c", "/x/a/y/b/z/c", true),
            ("/**/a/**/b/**/c", "/c/b/a", false),
            ("/**/a/**/b/**/c", "/a/b/c/d", false),
            ("/crm/**/*/Notes/**", "/crm/Notes", false),
            ("/crm/**/*/Notes/**", "/crm/x/Notes", true),
            ("/crm/**/*/Notes/**", "/crm/v2/Leads/1/Notes/9", true),
            ("/**/v*/**", "/crm/v2/Leads", true),
            ("/**/v*/**", "/crm/x2/Leads", false),
        ];
        for (pat, p, want) in cases {
            assert_eq!(
                pattern(pat).matches(&path(p)),
                *want,
                "pattern {pat:?} vs path {p:?}"
            );
            // The bit-set matcher and the one for long patterns agree.
            assert_eq!(
                pattern(pat).matches_long(&path(p)),
                *want,
                "long matcher: pattern {pat:?} vs path {p:?}"
            );
        }
        assert!(cases.len() >= 40);
    }

    #[test]
    fn patterns_of_128_segments_and_more_still_match() {
        for n in [126, 127, 128, 200] {
            let text = format!("/{}/**", vec!["a"; n - 1].join("/"));
            let p = pattern(&text);
            let exact = format!("/{}", vec!["a"; n - 1].join("/"));
            assert!(p.matches(&path(&exact)), "{n} segments");
            assert!(p.matches(&path(&format!("{exact}/b/c"))), "{n} segments");
            assert!(!p.matches(&path(&format!("/b{exact}"))), "{n} segments");
            let short = format!("/{}", vec!["a"; n - 2].join("/"));
            assert!(!p.matches(&path(&short)), "{n} segments");
        }
    }

    #[test]
    fn fixed_literals_are_those_before_any_double_star() {
        let cases: &[(&str, &[(usize, &str)])] = &[
            ("/crm/v*/Leads/**", &[(0, "crm"), (2, "Leads")]),
            ("/crm/**", &[(0, "crm")]),
            ("/crm/**/Notes", &[(0, "crm")]),
            ("/crm/*/Leads/x*", &[(0, "crm"), (2, "Leads")]),
            ("/**/Notes", &[]),
            ("/**", &[]),
            ("/", &[]),
            ("/*/v*", &[]),
            ("/a/b/c", &[(0, "a"), (1, "b"), (2, "c")]),
        ];
        for (text, want) in cases {
            assert_eq!(pattern(text).fixed_literals(), *want, "{text}");
        }
    }

    #[test]
    fn valid_patterns_round_trip() {
        for text in [
            "/",
            "/**",
            "/crm/v*/Leads/**",
            "/a*b*c",
            "/*",
            "/**/x/**",
            "/.*",
            "/..*",
            "/*.",
            "/%C3%A9*",
            "/a%20b",
            "/%25",
            "/a:b@c",
        ] {
            let p = pattern(text);
            assert_eq!(p.as_str(), text);
            assert_eq!(p.to_string(), text);
            assert_eq!(text.parse::<PathPattern>(), Ok(p));
        }
    }

    fn rejected(text: &str) -> PatternError {
        match PathPattern::parse(text) {
            Ok(p) => panic!("pattern {text:?} accepted: {p:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn pattern_errors() {
        let not_abs = |p: &str| PatternError::NotAbsolute { pattern: p.into() };
        let empty = |p: &str| PatternError::EmptySegment { pattern: p.into() };
        let mixed = |s: &str| PatternError::MixedDoubleStar { segment: s.into() };
        let not_canon = |s: &str, c: &str| PatternError::NotCanonical {
            segment: s.into(),
            canonical: c.into(),
        };
        let cases: Vec<(&str, PatternError)> = vec![
            ("", not_abs("")),
            ("crm/**", not_abs("crm/**")),
            ("**", not_abs("**")),
            ("//", empty("//")),
            ("/crm//Leads", empty("/crm//Leads")),
            ("/crm/", empty("/crm/")),
            ("//crm", empty("//crm")),
            ("/a**", mixed("a**")),
            ("/crm/**x", mixed("**x")),
            ("/***", mixed("***")),
            ("/a/b**c/d", mixed("b**c")),
            ("/crm/v2/%4ceads", not_canon("%4ceads", "Leads")),
            ("/%c3%a9", not_canon("%c3%a9", "%C3%A9")),
            ("/%7Euser*", not_canon("%7Euser*", "~user*")),
            ("/%2E*", not_canon("%2E*", ".*")),
            ("/v*%2d%41", not_canon("v*%2d%41", "v*-A")),
        ];
        for (text, want) in cases {
            assert_eq!(rejected(text), want, "{text:?}");
        }
    }

    #[test]
    fn invalid_segments_carry_the_path_error() {
        for (text, segment, code) in [
            ("/a/./b", ".", "DOT_SEGMENT"),
            ("/a/../b", "..", "DOT_SEGMENT"),
            ("/a/%2e%2e", "%2e%2e", "DOT_SEGMENT"),
            ("/a\\b", "a\\b", "BACKSLASH"),
            ("/a;x", "a;x", "PATH_PARAMETER"),
            ("/*;*", "*;*", "PATH_PARAMETER"),
            ("/a%2Fb", "a%2Fb", "ENCODED_SLASH"),
            ("/a%5c*", "a%5c*", "ENCODED_SLASH"),
            ("/a%", "a%", "INVALID_PERCENT_ENCODING"),
            ("/a%2*", "a%2*", "INVALID_PERCENT_ENCODING"),
            ("/*%41", "*%41", "NOT_CANONICAL"),
            ("/a%zz", "a%zz", "INVALID_PERCENT_ENCODING"),
            ("/a%00", "a%00", "NUL_BYTE"),
            ("/a\nb", "a\nb", "CONTROL_CHARACTER"),
            ("/a b", "a b", "CONTROL_CHARACTER"),
            ("/a%0a", "a%0a", "ENCODED_CONTROL_CHARACTER"),
            ("/a?b", "a?b", "QUERY_OR_FRAGMENT"),
            ("/%252e", "%252e", "DOUBLE_ENCODING"),
            ("/caf\u{e9}", "caf\u{e9}", "NON_ASCII"),
        ] {
            match rejected(text) {
                PatternError::InvalidSegment { segment: s, reason } => {
                    assert_eq!(s, segment, "{text:?}");
                    assert_eq!(reason.code(), code, "{text:?}");
                }
                PatternError::NotCanonical { segment: s, .. } => {
                    assert_eq!(s, segment, "{text:?}");
                    assert_eq!("NOT_CANONICAL", code, "{text:?}");
                }
                other => panic!("{text:?}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn error_messages_quote_the_bad_part() {
        for (text, needles) in [
            ("crm", &["\"crm\"", "must start with '/'"][..]),
            ("/a//b", &["\"/a//b\"", "empty segment"][..]),
            ("/a**", &["\"a**\"", "'**'"][..]),
            ("/a;b", &["\"a;b\"", "';'"][..]),
            (
                "/crm/%4Ceads",
                &["pattern segment \"%4Ceads\" is not canonical, write \"Leads\""][..],
            ),
        ] {
            let message = rejected(text).to_string();
            for needle in needles {
                assert!(
                    message.contains(needle),
                    "{text:?}: {message:?} lacks {needle:?}"
                );
            }
        }
    }

    #[test]
    fn pathological_inputs_complete() {
        // 200 segments of `a`: a naive backtracking matcher explores
        // O(n^3) splits for three `**` and far more with more of them.
        let many_a = format!("/{}", vec!["a"; 200].join("/"));
        let p = pattern("/**/a/**/b/**/c");
        assert!(!p.matches(&path(&many_a)));
        let hit = format!("{many_a}/b/c");
        assert!(p.matches(&path(&hit)));

        let deep = pattern(&format!("/{}x", "**/a/".repeat(20)));
        assert!(!deep.matches(&path(&many_a)));
        assert!(deep.matches(&path(&format!("{many_a}/x"))));

        // In-segment glob worst case: many stars against a long segment.
        let glob = pattern(&format!("/{}b", "a*".repeat(30)));
        let long_a = format!("/{}", "a".repeat(5_000));
        assert!(!glob.matches(&path(&long_a)));
        assert!(glob.matches(&path(&format!("{long_a}b"))));
    }

    #[test]
    fn glob_match_unit() {
        for (glob, text, want) in [
            ("", "", true),
            ("*", "", true),
            ("", "a", false),
            ("a", "a", true),
            ("a*", "a", true),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("*ab*ab", "abab", true),
            ("*ab*ab", "aabab", true),
            ("*ab*ab", "abba", false),
        ] {
            assert_eq!(
                glob_match(glob.as_bytes(), text.as_bytes()),
                want,
                "{glob:?} vs {text:?}"
            );
        }
    }
}
