//! Cases for [`Storage::list`]: name order, paging by `after` and `limit`, and the edges.

use super::{put_sample, secret_name};
use crate::Storage;

fn names(store: &dyn Storage, after: Option<&str>, limit: usize) -> Vec<String> {
    let after = after.map(secret_name);
    store
        .list(after.as_ref(), limit)
        .unwrap_or_else(|e| panic!("list after {after:?}, limit {limit}: {e}"))
        .into_iter()
        .map(|record| record.name.as_str().to_owned())
        .collect()
}

/// Writes secrets whose names, in byte order, are `SORTED`, in a scrambled order.
fn populate(store: &dyn Storage) {
    for i in [3, 0, 5, 1, 4, 2] {
        put_sample(store, SORTED[i], &["v1"]);
    }
}

const SORTED: [&str; 6] = ["A", "a", "a.b", "a/b", "b", "b-"];

/// An empty store lists nothing, from the start or after any name.
pub fn list_of_empty_store_is_empty<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    assert!(names(&store, None, 100).is_empty());
    assert!(names(&store, Some("a"), 100).is_empty());
}

/// Records come back in name (byte) order, whole, `limit` at a time, each page starting just
/// after the `after` name; walking the pages visits every secret once.
pub fn list_is_name_ordered_and_paged_by_after_and_limit<S: Storage + 'static>(
    make: &dyn Fn() -> S,
) {
    let store = make();
    populate(&store);
    assert_eq!(names(&store, None, 100), SORTED);
    assert_eq!(names(&store, None, 2), SORTED[..2]);
    assert_eq!(names(&store, Some("a"), 3), SORTED[2..5]);
    assert_eq!(names(&store, Some("a/b"), 100), SORTED[4..]);

    let listed = store.list(None, 1).unwrap();
    assert_eq!(
        listed,
        vec![store.read(&secret_name("A")).unwrap().expect("exists")]
    );

    for page_size in 1..=4 {
        let mut walked = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = names(&store, after.as_deref(), page_size);
            assert!(page.len() <= page_size);
            let Some(last) = page.last().cloned() else {
                break;
            };
            walked.extend(page);
            after = Some(last);
        }
        assert_eq!(walked, SORTED, "walking pages of {page_size}");
    }
}

/// A limit of 0 returns an empty page, whatever the store holds.
pub fn list_with_limit_zero_is_empty<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    populate(&store);
    assert!(names(&store, None, 0).is_empty());
    assert!(names(&store, Some("a"), 0).is_empty());
}

/// Listing after the last name (or after any name beyond it) returns an empty page.
pub fn list_after_the_last_name_is_empty<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    populate(&store);
    assert!(names(&store, Some("b-"), 100).is_empty());
    assert!(names(&store, Some("zzz"), 100).is_empty());
}

/// `after` need not exist: the page starts at the first name above it.
pub fn list_after_a_missing_name_starts_at_the_next<S: Storage + 'static>(make: &dyn Fn() -> S) {
    let store = make();
    populate(&store);
    assert_eq!(names(&store, Some("0"), 100), SORTED);
    assert_eq!(names(&store, Some("a-"), 2), ["a.b", "a/b"]);
    assert_eq!(names(&store, Some("a/a"), 100), SORTED[3..]);
    assert_eq!(names(&store, Some("aa"), 100), SORTED[4..]);
}
