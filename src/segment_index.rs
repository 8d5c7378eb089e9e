//! An index over an ordered table of path templates (the route table, the
//! scope catalog), so finding the first template that matches a path costs
//! about the same with a thousand templates as with ten.
//!
//! A template has *fixed literals*: literal segments every path it matches
//! has at the same position (`crm` at 0 and `Leads` at 2 for
//! `/crm/v*/Leads/**`). Each template is filed under one of them, its *key*:
//! the one fewest other templates share (so `Leads` rather than `crm`);
//! templates without any are always candidates. For a path, the candidates
//! are the templates filed under one of its own (position, segment) pairs
//! plus the unkeyed ones, visited in table order, so the first match is the
//! same as a scan of the whole table would find.

use std::collections::HashMap;

use crate::hash::FnvBuild;

/// How deep into a template a key may be.
pub const MAX_KEY_DEPTH: usize = 16;

#[derive(Debug, Default)]
pub struct SegmentIndex {
    /// By segment position: literal → positions in the table, ascending.
    keyed: Vec<HashMap<String, Vec<usize>, FnvBuild>>,
    /// Templates without a key, ascending.
    unkeyed: Vec<usize>,
}

impl SegmentIndex {
    /// `literals` holds, for each template in table order, its fixed
    /// literals (position, text); those at or past [`MAX_KEY_DEPTH`] are
    /// ignored.
    pub fn new(literals: &[Vec<(usize, &str)>]) -> Self {
        let usable = |l: &&(usize, &str)| l.0 < MAX_KEY_DEPTH;
        let mut shared: HashMap<(usize, &str), usize> = HashMap::new();
        for l in literals.iter().flatten().filter(usable) {
            *shared.entry(*l).or_default() += 1;
        }
        let mut index = SegmentIndex::default();
        for (i, fixed) in literals.iter().enumerate() {
            // The rarest literal; among equals, the deepest.
            let key = fixed
                .iter()
                .filter(usable)
                .min_by_key(|l| (shared.get(*l).copied().unwrap_or(0), usize::MAX - l.0));
            match key {
                Some((depth, literal)) => {
                    if index.keyed.len() <= *depth {
                        index.keyed.resize_with(depth + 1, HashMap::default);
                    }
                    index.keyed[*depth]
                        .entry((*literal).to_owned())
                        .or_default()
                        .push(i);
                }
                None => index.unkeyed.push(i),
            }
        }
        index
    }

    /// The first template (by table position), among those that may match
    /// a path with these `segments`, that `accept` takes.
    pub fn first<'p>(
        &self,
        segments: impl IntoIterator<Item = &'p str>,
        mut accept: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        // The non-empty candidate lists: at most one per key position, plus
        // the unkeyed templates.
        let mut lists: [&[usize]; MAX_KEY_DEPTH + 1] = [&[]; MAX_KEY_DEPTH + 1];
        let found = self
            .keyed
            .iter()
            .zip(segments)
            .filter_map(|(by_literal, segment)| by_literal.get(segment));
        let mut n = 0;
        for list in std::iter::once(&self.unkeyed).chain(found) {
            if let Some(slot) = lists.get_mut(n).filter(|_| !list.is_empty()) {
                *slot = list;
                n += 1;
            }
        }
        let lists = &mut lists[..n];
        if let [only] = lists {
            return only.iter().copied().find(|&i| accept(i));
        }
        // Merge the ascending lists, lowest table position first.
        loop {
            let (list, next) = lists
                .iter()
                .enumerate()
                .filter_map(|(l, list)| list.first().map(|&first| (l, first)))
                .min_by_key(|&(_, first)| first)?;
            if accept(next) {
                return Some(next);
            }
            lists[list] = lists[list].get(1..).unwrap_or(&[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_come_in_table_order_and_only_when_their_key_is_there() {
        // 0: /a/**, 1: /**, 2: /x*/b, 3: /a/b (filed under b: a is commoner),
        // 4: a literal too deep to be a key
        let index = SegmentIndex::new(&[
            vec![(0, "a")],
            vec![],
            vec![(1, "b")],
            vec![(0, "a"), (1, "b"), (2, "c")],
            vec![(MAX_KEY_DEPTH, "z")],
        ]);
        let visited = |path: &[&str]| {
            let mut seen = vec![];
            let found = index.first(path.iter().copied(), |i| {
                seen.push(i);
                false
            });
            assert_eq!(found, None);
            seen
        };
        assert_eq!(visited(&["a", "b"]), [0, 1, 2, 4]);
        assert_eq!(visited(&["a", "b", "c"]), [0, 1, 2, 3, 4]);
        assert_eq!(visited(&["a"]), [0, 1, 4]);
        assert_eq!(visited(&["x", "b", "c"]), [1, 2, 3, 4]);
        assert_eq!(visited(&[]), [1, 4]);
        assert_eq!(index.first(["a", "b"], |i| i >= 2), Some(2));
        assert_eq!(index.first(["q"], |i| i == 4), Some(4));
    }
}
