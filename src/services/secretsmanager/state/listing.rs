//! ListSecrets paging: which secrets a page holds and where the next one starts.
//!
//! A page costs about its own size wherever an index can serve the order (creation order, name
//! order, or a name-prefix filter); only the rarer sorts by change or access date scan the store.

use super::is_due;
use super::secret::Secret;
use crate::clock::Timestamp;
use crate::services::secretsmanager::filter::{self, Filter, Subject};
use parking_lot::{RwLock, RwLockReadGuard};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SortBy {
    #[default]
    CreatedDate,
    Name,
    LastChangedDate,
    LastAccessedDate,
}

/// Where a page ended: the sort key of its last entry. Keys are unique within a store
/// (dates are paired with the creation sequence, names are unique), so a page boundary
/// stays put when secrets are added or removed between calls.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cursor {
    pub sort_by: SortBy,
    pub descending: bool,
    pub key: (i64, u64, String),
}

#[derive(Default)]
pub struct ListQuery {
    pub filters: Vec<Filter>,
    pub include_planned_deletion: bool,
    pub sort_by: SortBy,
    pub descending: bool,
    pub max: usize,
    pub after: Option<Cursor>,
}

fn sort_key(secret: &Secret, sort_by: SortBy) -> (i64, u64, String) {
    match sort_by {
        SortBy::CreatedDate => (secret.created.millis(), secret.seq, String::new()),
        SortBy::Name => (0, 0, secret.name.clone()),
        SortBy::LastChangedDate => (secret.last_changed.millis(), secret.seq, String::new()),
        SortBy::LastAccessedDate => (secret.last_accessed.map_or(0, Timestamp::millis), secret.seq, String::new()),
    }
}

#[must_use]
pub fn subject(secret: &Secret) -> Subject<'_> {
    Subject {
        name: &secret.name,
        description: secret.description.as_deref(),
        tags: &secret.tags,
        primary_region: secret.primary_region(),
        owning_service: secret.owning_service.as_deref(),
    }
}

pub(super) fn page<R>(
    secrets: &BTreeMap<String, Arc<RwLock<Secret>>>,
    by_created: &BTreeMap<(Timestamp, u64), String>,
    query: &ListQuery,
    now: Timestamp,
    mut f: impl FnMut(&Secret) -> R,
) -> (Vec<R>, Option<Cursor>) {
    // Each candidate is read under its own lock, held until the page is built.
    fn lock(cell: &Arc<RwLock<Secret>>) -> RwLockReadGuard<'_, Secret> {
        cell.read()
    }
    let visible = |cell| {
        let s = lock(cell);
        let shown = (query.include_planned_deletion || !s.is_deleted())
            && !is_due(&s, now)
            && filter::matches_all(&query.filters, &subject(&s));
        shown.then_some(s)
    };
    let after = query.after.as_ref().filter(|c| c.sort_by == query.sort_by && c.descending == query.descending);
    let beyond = |key: &(i64, u64, String)| match after {
        None => true,
        Some(c) if query.descending => *key < c.key,
        Some(c) => *key > c.key,
    };
    let want = query.max.saturating_add(1);
    type Cells<'a> = Box<dyn Iterator<Item = &'a Arc<RwLock<Secret>>> + 'a>;
    let mut picked: Vec<RwLockReadGuard<'_, Secret>> = match (filter::name_prefix(&query.filters), query.sort_by) {
        (None, SortBy::CreatedDate) => {
            let bound = after.map_or(Bound::Unbounded, |c| Bound::Excluded((Timestamp(c.key.0), c.key.1)));
            let names: Box<dyn Iterator<Item = &String>> = if query.descending {
                Box::new(by_created.range((Bound::Unbounded, bound)).rev().map(|(_, n)| n))
            } else {
                Box::new(by_created.range((bound, Bound::Unbounded)).map(|(_, n)| n))
            };
            names.filter_map(|n| secrets.get(n)).filter_map(visible).take(want).collect()
        }
        (None, SortBy::Name) => {
            let from = after.map(|c| c.key.2.as_str());
            let iter: Cells<'_> = match (from, query.descending) {
                (None, false) => Box::new(secrets.values()),
                (None, true) => Box::new(secrets.values().rev()),
                (Some(n), false) => {
                    Box::new(secrets.range::<str, _>((Bound::Excluded(n), Bound::Unbounded)).map(|(_, s)| s))
                }
                (Some(n), true) => {
                    Box::new(secrets.range::<str, _>((Bound::Unbounded, Bound::Excluded(n))).rev().map(|(_, s)| s))
                }
            };
            iter.filter_map(visible).take(want).collect()
        }
        (prefix, sort_by) => {
            let candidates: Cells<'_> = match prefix {
                Some(p) => Box::new(
                    secrets
                        .range::<str, _>((Bound::Included(p), Bound::Unbounded))
                        .take_while(move |(n, _)| n.starts_with(p))
                        .map(|(_, s)| s),
                ),
                None => Box::new(secrets.values()),
            };
            let mut all: Vec<_> =
                candidates.filter_map(visible).map(|s| (sort_key(&s, sort_by), s)).filter(|(k, _)| beyond(k)).collect();
            all.sort_by(|a, b| if query.descending { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) });
            all.into_iter().take(want).map(|(_, s)| s).collect()
        }
    };
    let next = (picked.len() > query.max).then(|| {
        picked.truncate(query.max);
        picked.last().map(|s| Cursor {
            sort_by: query.sort_by,
            descending: query.descending,
            key: sort_key(s, query.sort_by),
        })
    });
    (picked.iter().map(|s| f(s)).collect(), next.flatten())
}
